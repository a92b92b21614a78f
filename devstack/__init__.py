"""Local stack for logstream's integration tests and demo: real parts, no mocks.

Everything here runs a real piece of software on loopback so tests exercise
the same wire protocol production does:

* ``opensearch_dist`` fetches the official OpenSearch distribution (by Maven
  coordinates, through ``mvn``) into a cache once and extracts it.
* ``opensearch_server`` runs that distribution as a single-node cluster on a
  free port with throwaway data and log directories.
* ``moto_server`` runs moto in server mode, so boto3 talks HTTP to it exactly
  as it would to AWS (``AWS_ENDPOINT_URL``), rather than patching boto3.
* ``fault_proxy`` sits between the shipper and OpenSearch and injects the
  failures OpenSearch produces under load (whole-request 429s, per-item
  rejections) without faking the successful path.

No Docker is needed; the only prerequisites are a Java 17+ JDK and ``mvn``.
"""

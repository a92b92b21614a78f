"""The cluster seam: ``port`` says what logstream asks of a search engine and what each
engine can do; ``opensearch`` (with ``opensearch_admin`` and ``opensearch_calls``) is the
OpenSearch adapter, ``bulk_transport`` the lean HTTP path for ``_bulk``, ``auth`` how
requests are authenticated. Only this package imports a search engine's client library."""

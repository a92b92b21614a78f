"""logstream: ship CloudWatch Logs into OpenSearch and prove nothing was lost.

The package is the whole domain; the Lambda handlers in ``functions/`` only
wire an event to one service call. Modules, from the bottom up:

- ``settings``       configuration read from the environment once, validated
- ``observability``  the one Logger / Metrics / Tracer
- ``clients``        the composition root: builds and caches every client
- ``payload``        decode a subscription payload (base64 + gzip + JSON)
- ``documents``      one CloudWatch event -> one index document
- ``naming``         index names from log group names, the ``_id`` join key
- ``bulk``           NDJSON + gzip bulk delivery with per-item outcomes
- ``quarantine``     where refused documents and bad payloads are parked
- ``checkpoints``    acknowledged watermarks in DynamoDB
- ``shipping``       the service every path (live, backfill, reconcile, heal) calls
"""

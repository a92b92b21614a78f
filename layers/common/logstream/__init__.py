"""logstream: ship CloudWatch Logs into OpenSearch and prove nothing was lost.

The package is the whole domain; the Lambda handlers in ``functions/`` only
wire an event to one service call. Sub-packages by capability:

- ``shipping``   the live path and the one shipping service every path uses
- ``backfill``   history in leased, resumable chunks
- ``reconcile``  count both sides, narrow, re-ship exactly what is missing
- ``schema``     field type drift: decide, template, rebuild, replay
- ``cluster``    the seam to the search engine (port, adapters, transport)
- ``aws``        CloudWatch Logs reads
- ``cli``        operator commands

Beside them, what every capability shares: ``settings``, ``observability``,
``errors``, ``naming`` (index names and ``_id``), ``state_table`` (the
DynamoDB item schema), ``retry`` (deadlines, backoff), ``times`` and
``clients`` (the composition root).
"""

"""Reconciliation: prove that the index holds every CloudWatch event, and re-ship what it lacks.

- ``window``         time windows, bucket steps and the narrowing's tuning
- ``ports``          the protocols it runs over (counters, fetcher, repairer, state), their errors
- ``range_check``    one range of one group: chunks, proven-through (the argument, in its doc)
- ``narrowing``      counting and refining mismatched buckets down to leaf windows
- ``settling``       fetching a range, comparing, re-shipping what is missing, recording gaps
- ``comparison``     source events against index ``_id``s, through ``naming.document_id``
- ``report``         gaps, range outcomes, group and run reports, ``ReconcileFailed``
- ``group_run``      one group: the range to check (watermark, settle lag), the watermark it earns
- ``service``        the reconciler: resolving groups, sharing the deadline, publishing reports
- ``publish``        one group report's log line, metrics and stored item
- ``store``          watermarks and reports in the state table
- ``repair``         re-shipping through the live path's ``Shipper``
- ``source_counts``  CloudWatch-side counters (Logs Insights, FilterLogEvents) and which to use
- ``index_counts``   the index-side counts and ids, over the cluster seam
- ``request``        the function's events: scheduled or manual, and their answers
"""

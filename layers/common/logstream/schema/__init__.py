"""Schema drift: keep field types stable per log group and put every refused document back.

- ``templates``: the logs, quarantine and per-group drift index templates, installed idempotently.
- ``diagnosis``: why the cluster refused a document (class, field, established and seen type).
- ``scan``: which fields a group's daily indices map with different types, and which are new.
- ``transform``: pure document transforms: typed siblings for misfits, overflow past the caps.
- ``decisions``: a field's decision, the rules that make one, and a group's working copy.
- ``decision_store``: decisions in the DynamoDB state table.
- ``mappings``: an index's mapped field paths, cached briefly (for the total-fields cap).
- ``rescue``: the live path's second chance for refused documents, before the quarantine.
- ``parked``: refused documents in the quarantine index: read, count, park again, unpark.
- ``rebuild``: an index that disagrees with a decision, rebuilt through a holding index.
- ``replay``: parked documents sent back to their own index under their own ``_id``.
- ``report``: what a heal run found and did, per group.
- ``healer``: the orchestration: scan, decide, template, rebuild, replay, report.
- ``request``: the schema-heal function's event (scheduled or manual) and its answer.
"""

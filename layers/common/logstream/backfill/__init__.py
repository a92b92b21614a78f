"""Backfill: history into the index in resumable chunks, exactly once beside the live stream.

A *job* covers some log groups over a time range, cut into *chunks* (one
group, one half-open window). Workers lease chunks, page FilterLogEvents and
ship each page through the live path's shipper; replays are harmless
(``_id`` = event id, op ``create``).

- ``model``: errors, job and chunk statuses, Chunk, JobView, WorkReport
- ``request``: a manual request validated (groups, range) before anything is stored
- ``plan``: pure planning: resolve groups, clamp the range, cut chunks
- ``job_store``: jobs, the job index and their counters in the state table
- ``chunk_store``: chunks, leases and acknowledged progress in the state table
- ``claims``: groups seen for the first time, claimed once (for auto-backfill)
- ``worker``: leases chunks and ships them page by page until no work or no time is left
- ``service``: the operations: start, work, status, cancel, list
- ``actions``: the function's glue: a schedule works, a manual invoke names an action
- ``auto``: auto-backfill policy: plan a group's history on its first live delivery
"""

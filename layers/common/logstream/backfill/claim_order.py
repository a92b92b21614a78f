"""The order backfill workers try to lease chunks in (pure): round-robin across
log groups, oldest job first.

Chunks are planned group by group, job by job, so taking them in stored order
lets one large group (a 5,000-chunk history) keep every worker busy while
every other group, and every job planned after it (a new group's
subscription-time backfill), waits. Interleaved, each group with open chunks
gets its next chunk in every round: a group of ``c`` chunks among ``g``
groups is leased at latest after ``g * (c - 1) + g`` others, whatever the
size of the others. How many chunks run at once is capped by the function's
reserved concurrency (BackfillConcurrency): one worker, one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

from logstream.backfill.model import Chunk


def round_robin(chunks_by_job: Iterable[Sequence[Chunk]]) -> list[Chunk]:
    """Every chunk once: the first open chunk of each group, then the second...

    Groups take their turn in the order they first appear (``chunks_by_job``
    oldest job first); within a group, chunks keep their job and number order.
    """
    by_group: dict[str, list[Chunk]] = {}
    for chunks in chunks_by_job:
        for chunk in chunks:
            by_group.setdefault(chunk.log_group, []).append(chunk)
    rounds = zip_longest(*by_group.values())
    return [chunk for row in rounds for chunk in row if chunk is not None]

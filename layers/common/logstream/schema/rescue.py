"""Live rescue: the shipper's refused documents, fixed by the decisions and the caps, re-sent.

The shipper hands :class:`DriftRescue` the documents the cluster refused; it
applies the group's decisions and the caps and re-sends them, so a decided
conflict never reaches the quarantine again. The decisions are those of the
group's schema scope: in ``shared-daily`` every group's are the shared ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Final

from logstream.naming import IndexLayout, schema_scope
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.schema.decisions import DecisionStore, decided_types
from logstream.schema.diagnosis import Diagnosis, ErrorClass, diagnosis_of
from logstream.schema.mappings import MappingSource
from logstream.schema.transform import TransformResult, heal_source
from logstream.shipping.delivery import BulkSink, DeliveryReport, Rejection
from logstream.shipping.documents import Document

#: How often a refused document is fixed and re-sent before it is left to the quarantine.
_MAX_ROUNDS: Final = 3
#: A refused field the cached decisions do not know is looked up again after this long.
_MISS_RECHECK_SECONDS: Final = 1.0


class DriftRescue:
    """Fixes documents the cluster refused for a known reason and re-sends them once.

    Only refused documents pay for it: a decisions lookup per group (cached
    for ``ttl_seconds``) and a mapping lookup per index for the caps.
    Anything it cannot fix comes back in ``rejected`` exactly as it was, and
    any failure of its own leaves the shipper's behaviour as without it.
    """

    def __init__(
        self,
        sink: BulkSink,
        decisions: DecisionStore | None,
        mappings: MappingSource,
        *,
        depth_limit: int,
        ttl_seconds: float = 60.0,
        layout: IndexLayout = IndexLayout.GROUP_DAILY,
    ) -> None:
        self._sink = sink
        self._decisions = decisions
        self._mappings = mappings
        self._depth_limit = depth_limit
        self._ttl = ttl_seconds
        self._layout = layout
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def decided(self, group: str, field_path: str | None = None) -> dict[str, str]:
        """The group's decided types, cached; a field not among them re-reads after 1 s."""
        hit = self._cache.get(group)
        now = time.monotonic()
        if hit is not None and now < hit[0]:
            stale_miss = field_path is not None and field_path not in hit[1]
            if not stale_miss or now < hit[0] - self._ttl + _MISS_RECHECK_SECONDS:
                return hit[1]
        decided = decided_types(self._decisions.load(group).values()) if self._decisions else {}
        self._cache[group] = (now + self._ttl, decided)
        return decided

    def __call__(self, rejected: Sequence[Rejection], deadline: Deadline) -> DeliveryReport:
        report = DeliveryReport()
        pending = list(rejected)
        for _ in range(_MAX_ROUNDS):
            if not pending:
                break
            try:
                fixed, kept = self._fix(pending)
            except Exception as error:  # noqa: BLE001 - the rescue must never break shipping
                logger.warning("drift rescue skipped", extra={"error": str(error)[:300]})
                fixed, kept = [], pending
            report.rejected += kept
            if not fixed:
                pending = []
                break
            outcome = self._sink.deliver([doc for doc, _ in fixed], deadline)
            count(Metric.DRIFT_RESCUED, len(outcome.delivered) + len(outcome.duplicates))
            originals = {id(doc): original for doc, original in fixed}
            report.delivered += outcome.delivered
            report.duplicates += outcome.duplicates
            report.undelivered += outcome.undelivered
            report.requests += outcome.requests
            report.bytes_sent += outcome.bytes_sent
            report.retried += outcome.retried
            # Refused again: diagnose the new refusal, keeping the original id and target.
            pending = [
                Rejection(r.document, r.status, r.error_type, r.reason, r.error)
                for r in outcome.rejected
                if id(r.document) in originals
            ]
        report.rejected += pending
        return report

    def _fix(
        self, rejected: Sequence[Rejection]
    ) -> tuple[list[tuple[Document, Rejection]], list[Rejection]]:
        fixed: list[tuple[Document, Rejection]] = []
        kept: list[Rejection] = []
        for rejection in rejected:
            document = rejection.document
            diagnosis = diagnosis_of(rejection)
            scope = schema_scope(document.log_group, self._layout)
            decided = self.decided(scope, diagnosis.field)
            result = self._transform(document, diagnosis, decided)
            if result is None:
                kept.append(rejection)
            else:
                fixed.append((document.with_source(result.source), rejection))
        return fixed, kept

    def _transform(
        self, document: Document, diagnosis: Diagnosis, decided: Mapping[str, str]
    ) -> TransformResult | None:
        klass = diagnosis.error_class
        if klass is ErrorClass.FIELD_LIMIT:
            # Cached: a mapping only grows, so a stale copy can only move more aside.
            known = self._mappings.known(document.index)
            result = heal_source(document.source, decided, known=known)
        elif klass is ErrorClass.DEPTH_LIMIT:
            result = heal_source(document.source, decided, depth_limit=self._depth_limit)
        elif diagnosis.is_conflict and diagnosis.field in decided:
            result = heal_source(document.source, decided)
        else:
            return None
        return result if result.changed else None

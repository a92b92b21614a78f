"""The schema healer: per group, scan, decide, template, rebuild, replay, and report.

Per group, bounded by the deadline: scan the daily indices for conflicts
(:mod:`~logstream.schema.scan`), decide (:mod:`~logstream.schema.decisions`),
write the group's drift template (:mod:`~logstream.schema.templates`), rebuild
indices that disagree with a decision (:mod:`~logstream.schema.rebuild`),
replay the group's quarantined documents into their original index under
their original ``_id`` (:mod:`~logstream.schema.replay`), and report
(:mod:`~logstream.schema.report`). Running it again changes nothing once a
group is healed.

It works per schema scope (:func:`logstream.naming.schema_scope`): in
``group-daily`` a scope is one group; in ``shared-daily`` every group shares
one scope, :data:`~logstream.naming.SHARED_SCOPE`, because a day's groups
share one index and its mapping. Then the scan covers the shared daily
indices, the decisions and the drift template are the scope's, and the
replay takes the parked documents of every group asked for. So two groups
that disagree on a field's type are healed like one group that drifts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, Final

from logstream.cluster.port import Cluster
from logstream.naming import SHARED_SCOPE, schema_scope
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.schema.decisions import DecisionStore, GroupDecisions
from logstream.schema.parked import ParkedDocuments
from logstream.schema.rebuild import IndexRebuilder
from logstream.schema.replay import QuarantineReplay
from logstream.schema.report import GroupHeal, HealReport
from logstream.schema.scan import ScanResult, scan_group
from logstream.schema.templates import ensure_drift_template
from logstream.settings import Settings
from logstream.shipping.delivery import BulkSink

#: A group is not started with less time left than this (seconds).
_GROUP_MIN_SECONDS: Final = 5


class SchemaHealer:
    """Scan, decide, template, rebuild, replay: per group, bounded by the deadline."""

    def __init__(
        self,
        cluster: Cluster,
        sink: BulkSink,
        decisions: DecisionStore,
        settings: Settings,
        *,
        now_ms: int | None = None,
    ) -> None:
        self._cluster = cluster
        self._decisions = decisions
        self._settings = settings
        self._now_ms = now_ms
        self._parked = ParkedDocuments(cluster, sink, settings.quarantine_index)
        self._rebuilder = IndexRebuilder(cluster, sink, self._parked, settings.index_prefix)
        self._replay = QuarantineReplay(
            cluster,
            sink,
            self._parked,
            depth_limit=settings.mapping_depth_limit,
            settle=self._settle,
        )

    # -- entry points

    def groups_to_heal(self) -> list[str]:
        """Configured groups, groups with parked documents, and groups with decisions."""
        found = set(self._settings.log_groups) | set(self._decisions.groups())
        found |= set(self.quarantine_counts())
        return sorted(found)

    def scopes(self, groups: Iterable[str]) -> dict[str, list[str]]:
        """Each schema scope of ``groups``, with the groups in it (the shared scope's key
        alone stands for no group: it heals indices and decisions, no parked documents)."""
        layout = self._settings.index_layout
        found: dict[str, list[str]] = {}
        for group in groups:
            members = found.setdefault(schema_scope(group, layout), [])
            if group != SHARED_SCOPE:
                members.append(group)
        return found

    def heal(self, groups: Sequence[str], deadline: Deadline) -> HealReport:
        started = time.perf_counter()
        report = HealReport()
        for scope, members in self.scopes(groups).items():
            heal = GroupHeal(scope)
            report.groups.append(heal)
            if deadline.remaining() < _GROUP_MIN_SECONDS:
                heal.deferred.append("no time left before the invocation deadline")
                continue
            self._heal_group(heal, members, deadline)
        report.report = self.report_rows(groups)
        report.seconds = time.perf_counter() - started
        for heal in report.groups:
            _count_metrics(heal)
        logger.info("schema heal finished", extra={"changes": report.changes})
        return report

    def report_rows(self, groups: Iterable[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for scope in self.scopes(groups):
            decisions = sorted(self._decisions.load(scope).values(), key=attrgetter("field"))
            rows += [d.row() for d in decisions]
        return rows

    def scan(self, group: str) -> ScanResult:
        """The scan of ``group``'s schema scope (every shared daily index in shared-daily)."""
        scope = schema_scope(group, self._settings.index_layout)
        return scan_group(self._cluster, self._settings.index_prefix, scope)

    def quarantine_counts(self) -> dict[str, int]:
        """Refused documents waiting in quarantine, per log group."""
        return self._parked.counts()

    # -- one group

    def _heal_group(self, heal: GroupHeal, members: Sequence[str], deadline: Deadline) -> None:
        group = heal.group  # the schema scope
        decisions = GroupDecisions(self._decisions, group, self._now)
        scan = self.scan(group)
        heal.indices = len(scan.indices)
        heal.conflicts = scan.as_dict()["conflicts"]
        heal.new_fields = scan.new_fields

        # 1. Conflicts between daily indices: the oldest index's type is kept.
        decisions.from_scan(scan)
        self._settle(heal, decisions)
        for conflict in scan.conflicts:
            self._rebuilder.rebuild_disagreeing(heal, conflict, decisions, deadline)
        heal.decisions_written = decisions.save()

        # 2. Refused documents (a rebuild may have parked some too).
        parked = [record for member in members for record in self._parked.of_group(member)]
        heal.quarantined_before = len(parked)
        for record in parked:
            decisions.from_refusal(record.diagnosis, record.timestamp)
        self._settle(heal, decisions)
        self._replay.replay(heal, parked, decisions, deadline)
        heal.decisions_written = decisions.save()

        after = self.scan(group)
        heal.conflicts_after = len(after.conflicts)
        if after.conflicts:
            logger.error(
                "field type conflicts remain after healing",
                extra={"group": group, "fields": [c.field for c in after.conflicts][:20]},
            )

    def _settle(self, heal: GroupHeal, decisions: GroupDecisions) -> None:
        """Save what changed, then make the group's drift template agree with it."""
        heal.decisions_written = decisions.save()
        written = ensure_drift_template(
            self._cluster, self._settings, decisions.group, decisions.decided()
        )
        heal.templates_written += int(written)

    def _now(self) -> int:
        return self._now_ms if self._now_ms is not None else int(time.time() * 1000)


def _count_metrics(heal: GroupHeal) -> None:
    count(Metric.DRIFT_CONFLICTS, len(heal.conflicts))
    count(Metric.DRIFT_NEW_FIELDS, len(heal.new_fields))
    count(Metric.DRIFT_DECISIONS, heal.decisions_written)
    count(Metric.DRIFT_VALUES_MOVED, heal.values_moved)
    count(Metric.QUARANTINE_REPLAYED, heal.replayed + heal.already_present)
    count(Metric.QUARANTINE_STILL_REFUSED, heal.still_quarantined)
    count(Metric.INDICES_REBUILT, len(heal.indices_rebuilt))
    count(Metric.DRIFT_UNRESOLVED, heal.conflicts_after + heal.still_quarantined)

"""The reconciler: which log groups, in what share of the deadline, and each
group's report published whatever happened to the others.

What to check in one group and how far its watermark moves is
:mod:`~logstream.reconcile.group_run`; the check itself is
:mod:`~logstream.reconcile.range_check`. Missing events are re-shipped through
the one :class:`~logstream.shipping.service.Shipper`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from logstream.aws.cloudwatch import LogGroupInfo, LogGroupNotFound, SourceThrottled
from logstream.reconcile.group_run import GroupReconciler, Timing
from logstream.reconcile.ports import (
    CountingSource,
    EventFetcher,
    IndexCounter,
    ReconcileState,
    Repairer,
    SourceCounter,
)
from logstream.reconcile.publish import publish
from logstream.reconcile.repair import ShipperRepairer
from logstream.reconcile.report import GroupReport, RunReport, Status, describe_error
from logstream.reconcile.window import DEFAULT_TUNING, Tuning
from logstream.retry import Deadline
from logstream.shipping.service import Shipper
from logstream.times import iso


class Reconciler:
    """Reconciles log groups: ranges from watermarks, repair, reports, metrics."""

    def __init__(
        self,
        *,
        source: CountingSource,
        counter_for: Callable[[str], SourceCounter],
        fetcher: EventFetcher,
        index: IndexCounter,
        shipper: Shipper | None,
        state: ReconcileState | None,
        timing: Timing,
        tuning: Tuning = DEFAULT_TUNING,
        repairer_for: Callable[[LogGroupInfo], Repairer] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._shipper = shipper
        self._state = state
        self._timing = timing
        self._clock = clock
        self._group = GroupReconciler(
            source=source,
            counter_for=counter_for,
            fetcher=fetcher,
            index=index,
            repairer_for=repairer_for or self._shipper_repairer,
            state=state,
            timing=timing,
            tuning=tuning,
            clock=clock,
        )

    def _shipper_repairer(self, info: LogGroupInfo) -> Repairer:
        if self._shipper is None:
            raise ValueError("a shipper or repairer_for is required")
        return ShipperRepairer(self._shipper, owner=info.account, region=self._timing.region)

    def resolve(
        self, entries: Iterable[str], deadline: Deadline, run_started: str
    ) -> tuple[list[LogGroupInfo], list[GroupReport]]:
        """Configured entries -> existing groups (``prefix*`` entries expand), and
        a report for each entry that names nothing."""
        found: dict[str, LogGroupInfo] = {}
        missing: list[GroupReport] = []
        for entry in entries:
            try:
                if entry.endswith("*"):
                    infos = self._source.groups_with_prefix(entry[:-1], deadline)
                    if not infos:
                        missing.append(
                            GroupReport(entry, run_started, Status.GROUP_MISSING, error="no match")
                        )
                    for info in infos:
                        found.setdefault(info.name, info)
                else:
                    found.setdefault(entry, self._source.describe_group(entry, deadline))
            except LogGroupNotFound as error:
                missing.append(
                    GroupReport(entry, run_started, Status.GROUP_MISSING, error=str(error))
                )
            except (SourceThrottled, ClientError, BotoCoreError) as error:
                missing.append(
                    GroupReport(entry, run_started, Status.FAILED, error=describe_error(error))
                )
        return list(found.values()), missing

    def run(
        self,
        entries: Sequence[str],
        deadline: Deadline,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> RunReport:
        """Reconcile every group; a failing group never stops the others."""
        run = RunReport(run_started=iso(int(self._clock() * 1000)))
        infos, unresolved = self.resolve(entries, deadline, run.run_started)
        for report in unresolved:
            self.publish(report)
            run.groups.append(report)
        for position, info in enumerate(infos):
            share = _share(deadline, len(infos) - position)
            run.groups.append(
                self.run_group(info, share, run.run_started, start_ms=start_ms, end_ms=end_ms)
            )
        return run

    def run_group(
        self,
        info: LogGroupInfo,
        deadline: Deadline,
        run_started: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> GroupReport:
        """Reconcile one group and publish its report."""
        report = self._group.run(info, deadline, run_started, start_ms=start_ms, end_ms=end_ms)
        self.publish(report)
        return report

    def publish(self, report: GroupReport) -> None:
        """Log, count and store a report (a group run, or an entry that named nothing)."""
        publish(report, self._state, self._clock)


def _share(deadline: Deadline, parts: int) -> Deadline:
    """An equal share of what is left for each of ``parts`` groups; unused time
    flows on to the next group."""
    return deadline.slice(deadline.remaining() / max(1, parts))

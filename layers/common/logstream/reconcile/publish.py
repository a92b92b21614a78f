"""Publishing one group's report: a log line, the EMF metrics, and the stored item."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from logstream.observability import Metric, count, logger, record
from logstream.reconcile.ports import ReconcileState
from logstream.reconcile.report import GroupReport, Status, describe_error


def publish(report: GroupReport, state: ReconcileState | None, clock: Callable[[], float]) -> None:
    """Store the report and emit its metrics; a report that cannot be stored fails the group."""
    _emit(report, clock)
    log = logger.error if report.status in {Status.FAILED, Status.GAPS_OPEN} else logger.info
    log(
        "log group reconciled",
        extra={
            "log_group": report.log_group,
            "status": report.status.value,
            "gaps_found": report.gaps_found,
            "events_missing": report.events_missing,
            "events_reshipped": report.events_reshipped,
            "events_still_missing": report.events_still_missing,
            "cloudwatch_calls": report.cloudwatch_calls,
            "error": report.error,
        },
    )
    if state is None:
        return
    try:
        state.save_report(report)
    except (ClientError, BotoCoreError) as error:
        report.status = Status.FAILED
        report.error = f"{report.error or ''} report not stored: {describe_error(error)}"
        count(Metric.RECONCILE_GROUPS_FAILED)


def _emit(report: GroupReport, clock: Callable[[], float]) -> None:
    count(Metric.RECONCILE_WINDOWS_CHECKED, report.windows_checked)
    count(Metric.RECONCILE_GAPS_FOUND, report.gaps_found)
    count(Metric.RECONCILE_EVENTS_MISSING, report.events_missing)
    count(Metric.RECONCILE_EVENTS_RESHIPPED, report.events_reshipped)
    count(Metric.RECONCILE_UNEXPECTED_DOCUMENTS, report.unexpected_documents)
    count(Metric.RECONCILE_INSIGHTS_FALLBACKS, report.insights_fallbacks)
    count(Metric.RECONCILE_CLOUDWATCH_CALLS, report.cloudwatch_calls)
    if report.status is Status.FAILED:
        count(Metric.RECONCILE_GROUPS_FAILED)
    if report.status is Status.GROUP_MISSING:
        count(Metric.RECONCILE_GROUPS_MISSING)
    # Always emitted (zero included) so the alarm sees data, not silence.
    record(Metric.RECONCILE_GAPS_OPEN, MetricUnit.Count, report.events_still_missing)
    if report.watermark_after is not None:
        lag = max(0.0, clock() - report.watermark_after / 1000)
        record(Metric.RECONCILE_LAG, MetricUnit.Seconds, round(lag, 1))

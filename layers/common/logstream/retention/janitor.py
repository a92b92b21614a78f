"""The retention janitor: delete this deployment's expired daily indices, and nothing else.

It lists ``{prefix}-*``, decides by name (:mod:`logstream.retention.expiry`),
reads the mapping ``_meta`` of each expired candidate and, when the marker
names this deployment, what the index holds (its log groups and time span);
it deletes the index by its exact name only when both say it is this
deployment's. Every deletion is logged and counted; a dry run decides the
same way and deletes nothing.

Runs on every engine, also where the engine has a lifecycle of its own (ISM,
ILM): installing those policies is not tested here (neither the OpenSearch nor
the Elasticsearch integ-test distribution has the plugin or module), and an
untested policy path must not delete data. On OpenSearch Serverless it makes
the same calls; that has not run live. See the README "Retention and the
shard budget".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Final

from logstream.cluster.port import Cluster, ClusterError, IndexMissing
from logstream.naming import IndexLayout, daily_index, daily_index_regex
from logstream.observability import Metric, count, logger
from logstream.retention.expiry import (
    IndexContents,
    Verdict,
    contents_from,
    contents_query,
    first_kept_day,
    verdict_by_name,
    verdict_by_owner,
)
from logstream.retry import Deadline
from logstream.schema.templates import index_owner
from logstream.settings import Settings

#: An index is not started with less time left than this (seconds): meta, contents, delete.
_MIN_SECONDS_PER_INDEX: Final = 5.0


def utc_today() -> date:
    return datetime.now(tz=UTC).date()


@dataclass(slots=True)
class RetentionReport:
    """What one janitor run did (or, in a dry run, would do)."""

    retention_days: int
    dry_run: bool
    first_kept_day: date | None = None
    deleted: list[str] = field(default_factory=list)
    not_ours: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    bad_dates: list[str] = field(default_factory=list)
    retained: int = 0
    deferred: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "retention_days": self.retention_days,
            "dry_run": self.dry_run,
            "first_kept_day": self.first_kept_day.isoformat() if self.first_kept_day else None,
            # In a dry run: what would be deleted.
            "deleted": self.deleted,
            "not_ours": self.not_ours,
            "unverified": self.unverified,
            "bad_dates": self.bad_dates,
            "retained": self.retained,
            "deferred": self.deferred,
        }


@dataclass(frozen=True, slots=True)
class Ownership:
    """Whose daily indices these are: the pattern of their names, the expected marker,
    and the naming (``index_for(log_group, timestamp_ms)``) a document must agree with."""

    index_prefix: str
    owner: str
    daily_pattern: re.Pattern[str]
    index_for: Callable[[str, int], str]
    protected: Collection[str]


def ownership_of(
    settings: Settings,
    daily_pattern: re.Pattern[str] | None = None,
    index_for: Callable[[str, int], str] | None = None,
) -> Ownership:
    """The deployment's daily indices, in its INDEX_LAYOUT: ``{prefix}-{group}-{day}``
    or, shared-daily, ``{prefix}-{day}`` (tests may pass their own pattern and naming).
    """
    prefix = settings.index_prefix
    return Ownership(
        index_prefix=prefix,
        owner=settings.index_owner,
        daily_pattern=daily_pattern or daily_index_regex(prefix, settings.index_layout),
        index_for=index_for or partial(_layout_index, prefix, settings.index_layout),
        protected=frozenset({settings.quarantine_index, settings.alias}),
    )


def _layout_index(prefix: str, layout: IndexLayout, log_group: str, timestamp_ms: int) -> str:
    return daily_index(prefix, log_group, timestamp_ms, layout)


class RetentionJanitor:
    """Deletes expired daily indices of one deployment (see the module doc)."""

    def __init__(
        self,
        cluster: Cluster,
        ownership: Ownership,
        retention_days: int,
        today: Callable[[], date] = utc_today,
        prepare: Callable[[Deadline], object] | None = None,
    ) -> None:
        self._cluster = cluster
        self._ownership = ownership
        self._retention_days = retention_days
        self._today = today
        # Installs the index templates, so new indices carry the ownership marker.
        self._prepare = prepare

    def run(self, deadline: Deadline, *, dry_run: bool = False) -> RetentionReport:
        """One pass over ``{prefix}-*``; RETENTION_DAYS=0 does nothing."""
        if self._prepare is not None:  # once per container, as the shipper does
            self._prepare(deadline)
            self._prepare = None
        report = RetentionReport(self._retention_days, dry_run)
        if self._retention_days == 0:
            return report
        today = self._today()
        report.first_kept_day = first_kept_day(today, self._retention_days)
        own = self._ownership
        for name in self._cluster.list_indices(f"{own.index_prefix}-*"):
            verdict = verdict_by_name(
                name,
                daily_pattern=own.daily_pattern,
                today=today,
                retention_days=self._retention_days,
                protected=own.protected,
            )
            if verdict is Verdict.RETAINED:
                report.retained += 1
            elif verdict is Verdict.BAD_DATE:
                report.bad_dates.append(name)
            elif verdict is Verdict.EXPIRED:
                if deadline.remaining() < _MIN_SECONDS_PER_INDEX:
                    report.deferred.append(name)
                    continue
                self._expire(report, name)
        if report.not_ours:
            logger.warning(
                "expired indices that are not this deployment's were kept",
                extra={"indices": report.not_ours, "owner": own.owner},
            )
        count(Metric.RETENTION_NOT_OURS, len(report.not_ours))
        return report

    def _expire(self, report: RetentionReport, name: str) -> None:
        try:
            owner = index_owner(self._cluster.index_meta(name))
        except IndexMissing:
            return  # deleted meanwhile (another run, a person): nothing to do
        own = self._ownership
        verdict = verdict_by_owner(
            name,
            owner=owner,
            expected_owner=own.owner,
            contents=self._contents(name) if owner == own.owner else None,
            index_for=own.index_for,
        )
        if verdict is Verdict.UNVERIFIED:
            report.unverified.append(name)
            return
        if verdict is not Verdict.EXPIRED:
            report.not_ours.append(name)
            return
        if report.dry_run:
            report.deleted.append(name)
            return
        self._cluster.delete_index(name)
        report.deleted.append(name)
        count(Metric.RETENTION_INDICES_DELETED)
        logger.info(
            "expired index deleted",
            extra={"index": name, "retention_days": self._retention_days},
        )

    def _contents(self, name: str) -> IndexContents | None:
        """Its groups and time span; None when the index cannot be asked (its
        ``log_group`` is not a keyword, so it was not mapped by logstream)."""
        try:
            return contents_from(self._cluster.search(name, contents_query()))
        except ClusterError as error:
            if error.status != 400:
                raise
            return None

"""Quarantine redrive: parked documents sent again through the Shipper once their cause is fixed.

An operator fixes what made the cluster refuse documents (a template, a
field limit, a drift decision) and redrives them. Each parked document goes
again to its own index under its own ``_id`` (``create``: one already there
counts as done). Its record is deleted only after the cluster acknowledged
the document; one refused again is parked again with the new reason, one that
could not be delivered keeps its record. Nothing leaves the quarantine
without landing in its index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from logstream.retry import Deadline
from logstream.schema.parked import PAGE_SIZE, ParkedDocument, ParkedDocuments
from logstream.shipping.service import Shipper

#: No page is started with less time left than this (seconds).
_PAGE_MIN_SECONDS: Final = 5


@dataclass(slots=True)
class RedriveReport:
    """What one redrive did, per outcome; every record read is in exactly one count."""

    groups: list[str] = field(default_factory=list)
    records: int = 0
    delivered: int = 0
    already_present: int = 0
    refused_again: int = 0
    undelivered: int = 0
    not_tried: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def unparked(self) -> int:
        return self.delivered + self.already_present

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unparked": self.unparked}


class Redrive:
    """Sends a group's parked documents again; see the module docstring."""

    def __init__(self, parked: ParkedDocuments, shipper: Shipper) -> None:
        self._parked = parked
        self._shipper = shipper

    def run(
        self, groups: Iterable[str], deadline: Deadline, *, reason: str | None = None
    ) -> RedriveReport:
        report = RedriveReport()
        for group in groups:
            report.groups.append(group)
            for page in _pages(self._parked.of_group(group)):
                chosen = [p for p in page if reason is None or p.diagnosis.error_class == reason]
                if deadline.remaining() < _PAGE_MIN_SECONDS:
                    report.not_tried += len(chosen)
                    report.records += len(chosen)
                    continue
                self._page(chosen, report, deadline)
        if report.not_tried:
            report.notes.append(f"{report.not_tried} records not tried: out of time; run again")
        return report

    def _page(self, page: list[ParkedDocument], report: RedriveReport, deadline: Deadline) -> None:
        report.records += len(page)
        # By index and id: a document the drift rescue fixed comes back as a new object.
        owners = {(p.target_index, p.doc_id): p for p in page}
        documents = [p.document() for p in page]
        delivery = self._shipper.redeliver(documents, deadline)
        report.delivered += len(delivery.delivered)
        report.already_present += len(delivery.duplicates)
        report.refused_again += len(delivery.rejected)
        report.undelivered += len(delivery.undelivered)
        if delivery.undelivered:
            report.notes.append(f"not delivered, kept: {delivery.undelivered[0].reason[:200]}")
        # Only acknowledged documents leave the quarantine; refused ones were parked again.
        acknowledged = [(d.index, d.doc_id) for d in delivery.delivered + delivery.duplicates]
        self._parked.unpark([owners[k] for k in acknowledged if k in owners])


def _pages(parked: Iterator[ParkedDocument]) -> Iterator[list[ParkedDocument]]:
    page: list[ParkedDocument] = []
    for record in parked:
        page.append(record)
        if len(page) == PAGE_SIZE:
            yield page
            page = []
    if page:
        yield page

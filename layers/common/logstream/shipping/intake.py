"""The decoder's one entry: a direct subscription delivery or a Kinesis batch, told by shape.

``Transport=lambda`` invokes the decoder with ``{"awslogs": {"data": ...}}``;
``Transport=kinesis`` with an event-source-mapping batch of Kinesis records.
Both shapes are always accepted, so switching the transport loses nothing
that is still in flight on the other one; a shape that does not match
``TRANSPORT`` is logged once per container as a warning (a leftover filter or
mapping that still sends events).
"""

from __future__ import annotations

from typing import Any

from logstream.observability import logger
from logstream.retry import Deadline
from logstream.settings import Transport
from logstream.shipping.kinesis import KinesisBatchShipper, is_kinesis_batch
from logstream.shipping.live import LiveShipper


class DecoderIntake:
    """Routes one decoder invocation to the live path or the Kinesis batch path."""

    def __init__(
        self, live: LiveShipper, kinesis: KinesisBatchShipper, transport: Transport
    ) -> None:
        self._live = live
        self._kinesis = kinesis
        self._transport = transport
        self._warned: set[Transport] = set()

    def handle(self, event: Any, deadline: Deadline) -> dict[str, Any]:
        """The invocation's answer: a partial batch response for Kinesis, else the ship report."""
        if is_kinesis_batch(event):
            self._note_transport(Transport.KINESIS)
            return dict(self._kinesis.ship_batch(event, deadline))
        self._note_transport(Transport.LAMBDA)
        return self._live.ship_event(event, deadline).as_dict()

    def _note_transport(self, seen: Transport) -> None:
        if seen is self._transport or seen in self._warned:
            return
        self._warned.add(seen)
        logger.warning(
            "the decoder received an event of the other transport; it is shipped anyway",
            extra={"configured": self._transport.value, "received": seen.value},
        )

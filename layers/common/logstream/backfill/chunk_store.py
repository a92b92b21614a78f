"""Backfill chunks in the state table: creation, leases, and acknowledged progress.

Items and keys: :mod:`logstream.state_table` (``backfill#<job>`` /
``chunk#<n>``). A worker leases a chunk with a conditional write (pending, or
leased with an expired lease), so two workers never hold one chunk; every
later write is conditional on still holding the lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from logstream.backfill.job_store import JobStore
from logstream.backfill.model import Chunk, ChunkStatus
from logstream.backfill.plan import JobPlan
from logstream.state_table import backfill_chunk_key, backfill_chunk_pk, condition_failed, n, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class ChunkStore:
    """Chunks of jobs; progress and completion are also counted on the job."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        jobs: JobStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self._jobs = jobs
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(self, plan: JobPlan) -> None:
        """Write a plan's chunks, all pending (before the job: see JobStore.create)."""
        items: list[dict[str, Any]] = [
            {
                **backfill_chunk_key(plan.job_id, number),
                "log_group": s(chunk.log_group),
                "account": s(chunk.account),
                "start_ms": n(chunk.start_ms),
                "end_ms": n(chunk.end_ms),
                "status": s(ChunkStatus.PENDING),
                "events": n(0),
                "pages": n(0),
            }
            for number, chunk in enumerate(plan.chunks)
        ]
        for first in range(0, len(items), 25):
            batch: Any = [{"PutRequest": {"Item": item}} for item in items[first : first + 25]]
            pending: Any = {self._table: batch}
            while pending:
                answer = self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}

    def open_chunks(self, job_id: str) -> list[Chunk]:
        """Chunks not done yet (pending, or leased: their lease may have expired)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "FilterExpression": "#s <> :done",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":pk": s(backfill_chunk_pk(job_id)),
                ":chunk": s("chunk#"),
                ":done": s(ChunkStatus.DONE),
            },
            "ConsistentRead": True,
        }
        chunks: list[Chunk] = []
        while True:
            page = self._client.query(**kwargs)
            chunks += [_chunk_of(job_id, item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return chunks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def lease(self, chunk: Chunk, owner: str, lease_ms: int) -> Chunk | None:
        """Take ``chunk`` if it is pending or its lease expired; None if someone holds it."""
        now = self._now_ms()
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=backfill_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression=(
                    "SET #s = :leased, lease_owner = :me, lease_expires = :exp ADD attempts :one"
                ),
                ConditionExpression=("#s = :pending OR (#s = :leased AND lease_expires < :now)"),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":leased": s(ChunkStatus.LEASED),
                    ":pending": s(ChunkStatus.PENDING),
                    ":me": s(owner),
                    ":exp": n(now + lease_ms),
                    ":now": n(now),
                    ":one": n(1),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return _chunk_of(chunk.job_id, answer["Attributes"])

    def _update_held(
        self, chunk: Chunk, owner: str, expression: str, values: dict[str, Any]
    ) -> bool:
        """A write that only the lease holder may make; False when the lease was lost."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=backfill_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression=expression,
                ConditionExpression="lease_owner = :me AND #s = :leased",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":me": s(owner),
                    ":leased": s(ChunkStatus.LEASED),
                    **values,
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def save_page(
        self,
        chunk: Chunk,
        owner: str,
        *,
        next_token: str | None,
        events: int,
        quarantined: int,
        lease_ms: int,
    ) -> bool:
        """Record an acknowledged page: the resume token and counters; renews the lease."""
        token_part = "next_token = :token, " if next_token else ""
        remove = "" if next_token else " REMOVE next_token"
        values: dict[str, Any] = {
            ":events": n(events),
            ":exp": n(self._now_ms() + lease_ms),
            ":one": n(1),
        }
        if next_token:
            values[":token"] = s(next_token)
        saved = self._update_held(
            chunk,
            owner,
            f"SET {token_part}lease_expires = :exp ADD events :events, pages :one{remove}",
            values,
        )
        if saved:
            self._jobs.add_progress(chunk.job_id, events=events, quarantined=quarantined)
        return saved

    def restart_chunk(self, chunk: Chunk, owner: str) -> bool:
        """Forget an unusable resume token (they expire); the chunk replays harmlessly."""
        return self._update_held(chunk, owner, "REMOVE next_token", {})

    def release(self, chunk: Chunk, owner: str) -> bool:
        """Give a chunk back before the deadline; its resume token is kept."""
        return self._update_held(
            chunk,
            owner,
            "SET #s = :pending REMOVE lease_owner, lease_expires",
            {":pending": s(ChunkStatus.PENDING)},
        )

    def complete(self, chunk: Chunk, owner: str) -> bool:
        """Mark a chunk done and count it on its job; finish the job with its last chunk."""
        if not self._update_held(
            chunk,
            owner,
            "SET #s = :done REMOVE lease_owner, lease_expires, next_token",
            {":done": s(ChunkStatus.DONE)},
        ):
            return False
        self._jobs.count_chunk_done(chunk.job_id)
        return True


def _chunk_of(job_id: str, item: Mapping[str, Any]) -> Chunk:
    return Chunk(
        job_id=job_id,
        number=int(item["sk"]["S"].split("#", 1)[1]),
        log_group=item["log_group"]["S"],
        account=item.get("account", {}).get("S", ""),
        start_ms=int(item["start_ms"]["N"]),
        end_ms=int(item["end_ms"]["N"]),
        status=item["status"]["S"],
        next_token=item.get("next_token", {}).get("S"),
        events=int(item.get("events", {}).get("N", "0")),
    )

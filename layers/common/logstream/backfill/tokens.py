"""Client tokens: a retried backfill start answers with the job it first planned.

A client (the CLI, ``sam remote invoke``, a script) sends ``client_token``
with ``start``; the first start to claim the token with a conditional write
owns it and plans the job, every later start with the same token reads the
job id back. Items: ``backfill-token#<token>`` / ``token`` in
:mod:`logstream.state_table`, kept 30 days.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from logstream.state_table import backfill_token_key, condition_failed, n, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

#: How long a token keeps answering with its job (seconds).
TOKEN_TTL_SECONDS: Final = 30 * 86_400


class ClientTokens:
    """Which job a client token started."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def job_for(self, client_token: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=backfill_token_key(client_token), ConsistentRead=True
        ).get("Item")
        return str(item["job_id"]["S"]) if item else None

    def claim(self, client_token: str, job_id: str) -> str:
        """Bind the token to ``job_id`` unless it is bound already; the job id it names."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **backfill_token_key(client_token),
                    "job_id": s(job_id),
                    "expires_at": n(int(self._clock()) + TOKEN_TTL_SECONDS),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            winner = self.job_for(client_token)
            return winner if winner is not None else job_id
        return job_id

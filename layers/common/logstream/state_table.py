"""The DynamoDB state table: every item kind, its keys, who writes it and who reads it.

One table (template.yaml ``StateTable``): string keys ``pk`` (hash) and
``sk`` (range), TTL on ``expires_at`` (epoch seconds). Every store builds its
keys here, so this page is the whole schema:

=========================  ======================  ==========================================
pk                         sk                      item
=========================  ======================  ==========================================
``checkpoint#<group>``     ``stream#<stream>``     ``watermark`` (ms): newest acknowledged
                                                   live event of the stream, below its oldest
                                                   unacknowledged one and below every
                                                   ``floor_<batch>`` (the oldest undelivered
                                                   time of a payload whose invocation failed,
                                                   until its retry delivers it); ``rev``
                                                   changes with the floors. Written only by
                                                   the live path (shipping/checkpoints.py);
                                                   read by operators (the live lag).
``backfill#<job>``         ``job``                 a backfill job: groups, range, counters,
                                                   status. backfill/job_store.py.
``backfill#<job>``         ``chunk#<000042>``      one chunk: range, next token, lease owner
                                                   and expiry, counters.
                                                   backfill/chunk_store.py.
``backfill-jobs``          ``<created iso>#<job>`` the job index, newest last.
                                                   backfill/job_store.py.
``backfill-token#<token>`` ``token``               ``job_id`` a client token started (30-day
                                                   TTL): a retried start answers with it.
                                                   Conditional put; backfill/tokens.py.
``subscribed#<group>``     ``group``               first time a group was seen: claimed once
                                                   by auto-backfill (backfill/claims.py).
``reconciled#<group>``     ``watermark``           ``watermark`` (ms): everything before it is
                                                   proven in the index. Reconciler.
``reconcile-report#<g>``   ``<run start iso>``     one run's report for a group (30-day TTL).
                                                   Reconciler writes; CLI reads.
``reconcile-cursor``       ``cursor``              the fair walk over the group set: ``after``
                                                   (last group checked), ``resume`` (where a
                                                   cut-short listing continues), ``cycle``,
                                                   ``cycle_runs``, ``cycle_checked``. Written
                                                   and read by scheduled reconcile runs
                                                   (reconcile/cursor_store.py).
``drift#<group>``          ``field#<path>``        a schema decision for one field. Healer
                                                   writes; live rescue and healer read. The
                                                   group is the schema scope: ``(shared-daily)``
                                                   for every group in that layout (naming.py).
``drift``                  ``group#<group>``       the groups that have decisions. Healer.
``fleet-groups``           ``group#<group>``       one group the subscriber handled: ``status``
                                                   (subscribed / refused / account-policy /
                                                   removed), ``reason``, ``filter_name``,
                                                   ``destination_arn``, ``first_ms``,
                                                   ``updated_ms``. fleet/registry.py writes;
                                                   reconciliation, backfill, CLI read.
``fleet-sweep``            ``cursor``              the sweep in progress: ``prefix_index``,
                                                   ``next_token``, ``done_in_page``, counters;
                                                   ``completed_ms`` of the last whole sweep.
                                                   fleet/cursor.py.
=========================  ======================  ==========================================
"""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

Key = dict[str, dict[str, str]]

BACKFILL_JOBS_PK: Final = "backfill-jobs"
DRIFT_GROUPS_PK: Final = "drift"
RECONCILE_CURSOR_PK: Final = "reconcile-cursor"
#: Sort-key prefixes of the drift items, for ``begins_with`` queries.
DRIFT_FIELD_SK_PREFIX: Final = "field#"
DRIFT_GROUP_SK_PREFIX: Final = "group#"


def s(value: str) -> dict[str, str]:
    """A DynamoDB string attribute."""
    return {"S": value}


def n(value: int) -> dict[str, str]:
    """A DynamoDB number attribute."""
    return {"N": str(value)}


def key(pk: str, sk: str) -> Key:
    return {"pk": s(pk), "sk": s(sk)}


def checkpoint_pk(log_group: str) -> str:
    return f"checkpoint#{log_group}"


def checkpoint_key(log_group: str, log_stream: str) -> Key:
    return key(checkpoint_pk(log_group), f"stream#{log_stream}")


def backfill_job_key(job_id: str) -> Key:
    return key(f"backfill#{job_id}", "job")


def backfill_chunk_pk(job_id: str) -> str:
    return f"backfill#{job_id}"


def backfill_chunk_key(job_id: str, number: int) -> Key:
    return key(backfill_chunk_pk(job_id), f"chunk#{number:06d}")


def backfill_index_key(created_iso: str, job_id: str) -> Key:
    return key(BACKFILL_JOBS_PK, f"{created_iso}#{job_id}")


def backfill_token_key(client_token: str) -> Key:
    return key(f"backfill-token#{client_token}", "token")


def subscribed_key(log_group: str) -> Key:
    return key(f"subscribed#{log_group}", "group")


def reconciled_key(log_group: str) -> Key:
    return key(f"reconciled#{log_group}", "watermark")


def reconcile_report_pk(log_group: str) -> str:
    return f"reconcile-report#{log_group}"


def reconcile_cursor_key() -> Key:
    return key(RECONCILE_CURSOR_PK, "cursor")


def drift_decision_pk(log_group: str) -> str:
    return f"drift#{log_group}"


def drift_decision_key(log_group: str, field_path: str) -> Key:
    return key(drift_decision_pk(log_group), f"{DRIFT_FIELD_SK_PREFIX}{field_path}")


def drift_group_key(log_group: str) -> Key:
    return key(DRIFT_GROUPS_PK, f"{DRIFT_GROUP_SK_PREFIX}{log_group}")


FLEET_GROUPS_PK: Final = "fleet-groups"
#: Sort-key prefix of the fleet group items, for ``begins_with`` queries.
FLEET_GROUP_SK_PREFIX: Final = "group#"


def fleet_group_key(log_group: str) -> Key:
    return key(FLEET_GROUPS_PK, f"{FLEET_GROUP_SK_PREFIX}{log_group}")


def fleet_sweep_key() -> Key:
    return key("fleet-sweep", "cursor")


def condition_failed(error: ClientError) -> bool:
    """Whether a conditional write lost (someone else got there first)."""
    code: Any = error.response.get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")

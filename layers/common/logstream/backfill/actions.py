"""The backfill function's events: a schedule works open jobs; a manual invoke names an action.

Manual actions: ``start`` (plan and store the job, then answer at once with
its id: the scheduled workers ship it, so a client that retries a slow call
cannot plan twice; ``client_token`` makes a retried start answer with the
same job), ``status``, ``cancel``, ``list``, ``work``. Bad input (an
:class:`~logstream.errors.InputError`) answers ``{"ok": false, "error": ...}``
without failing the invocation (retrying it could not help); anything else
raises, so Lambda retries and the Errors alarm sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logstream.backfill.model import BackfillInputError, quoted
from logstream.backfill.service import BackfillService
from logstream.errors import answer_manual
from logstream.observability import logger
from logstream.retry import Deadline

_ACTIONS = "start, status, cancel, list or work"


def handle_event(service: BackfillService, event: object, deadline: Deadline) -> dict[str, Any]:
    """Route one invocation's event to the service; the answer is the function's result."""
    if isinstance(event, Mapping) and _is_schedule(event):
        return {"ok": True, "work": service.work(deadline).as_dict()}
    answer = answer_manual(lambda: _manual_action(service, event, deadline))
    if not answer["ok"]:
        logger.error("backfill request refused", extra={"reason": answer["error"]})
    return answer


def _is_schedule(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"


def _manual_action(service: BackfillService, event: object, deadline: Deadline) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise BackfillInputError(
            f'a manual invocation is a JSON object such as {{"action": "list"}}, '
            f"not {quoted(event)}"
        )
    action = event.get("action", "start")
    if action == "start":
        return {"job": service.start(event, deadline).as_dict()}
    if action == "work":
        return {"work": service.work(deadline).as_dict()}
    if action == "status":
        return {"job": service.status(_job_id_of(event, action)).as_dict()}
    if action == "cancel":
        return {"job": service.cancel(_job_id_of(event, action)).as_dict()}
    if action == "list":
        return {"jobs": [view.as_dict() for view in service.list_jobs()]}
    raise BackfillInputError(f"unknown action {quoted(action)}: use {_ACTIONS}")


def _job_id_of(event: Mapping[str, Any], action: str) -> str:
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise BackfillInputError(f"action {action!r} needs a job_id")
    return job_id

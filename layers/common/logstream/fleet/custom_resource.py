"""The CloudFormation custom resource's answer: always sent, SUCCESS or FAILED with a reason.

CloudFormation waits for a PUT of the outcome to the event's ResponseURL (a
presigned S3 URL); without one the stack hangs for an hour. So every outcome
is answered, an error included. The physical id never changes: a new one
would make CloudFormation delete the old resource, which removes the filters.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from logstream.errors import InfrastructureError, InputError
from logstream.observability import logger

PHYSICAL_ID: Final = "logstream-fleet-subscriptions"
#: CloudFormation refuses responses over 4 KB; the reason is what gets cut.
_MAX_REASON_CHARS: Final = 1000
_RESPONSE_TIMEOUT_SECS: Final = 10

#: Runs the request: (RequestType) -> (succeeded, reason, data).
Run = Callable[[str], tuple[bool, str, Mapping[str, Any]]]


def is_custom_resource_event(event: object) -> bool:
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


def answer(event: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """Run the request and PUT its outcome to the ResponseURL; returns what was sent."""
    request_type = str(event["RequestType"])
    try:
        succeeded, reason, data = run(request_type)
    except InputError as error:
        # A Delete that cannot even read its settings has nothing it could remove;
        # failing it would leave the stack undeletable.
        succeeded, reason, data = request_type == "Delete", str(error), {}
        logger.error("custom resource: bad configuration", extra={"error": str(error)})
    except Exception as error:  # noqa: BLE001 - answered FAILED, with the traceback logged
        succeeded, reason, data = False, f"{type(error).__name__}: {error}", {}
        logger.exception("custom resource request failed", extra={"request_type": request_type})
    body = {
        "Status": "SUCCESS" if succeeded else "FAILED",
        "Reason": (reason or "ok")[:_MAX_REASON_CHARS],
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": {key: str(value) for key, value in data.items()},
    }
    _put(str(event["ResponseURL"]), json.dumps(body).encode())
    return body


def _put(url: str, payload: bytes) -> None:
    """PUT the answer; a failure raises, so Lambda's retry answers again."""
    if not url.startswith(("https://", "http://")):
        raise InfrastructureError(f"ResponseURL is not an http(s) URL: {url[:100]!r}")
    # The presigned URL was signed without a content type: sending one breaks the signature.
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=payload, method="PUT", headers={"Content-Type": ""}
    )
    try:
        with urllib.request.urlopen(request, timeout=_RESPONSE_TIMEOUT_SECS) as response:  # noqa: S310
            response.read()
    except OSError as error:
        raise InfrastructureError(f"could not answer CloudFormation: {error}") from error

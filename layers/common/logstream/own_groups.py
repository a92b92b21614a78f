"""logstream's own log groups: never shipped, never planned, never subscribed.

Every batch the decoder ships makes the functions write log lines; shipping
those lines would feed each invocation into the next, forever. The functions'
groups are ``/aws/lambda/<function name>``, and CloudFormation names every
function of the stack ``<stack name>-<logical id>-<suffix>``, so the template
passes ``/aws/lambda/<stack name>-`` as LOGSTREAM_OWN_LOG_GROUP_PREFIXES. The
running function's own group is always included, whatever the settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OwnGroups:
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def of_this_function(cls, prefixes: Iterable[str] = ()) -> OwnGroups:
        """The configured prefixes plus this function's group (AWS_LAMBDA_FUNCTION_NAME)."""
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        names = frozenset({f"/aws/lambda/{name}"}) if name else frozenset()
        return cls(names, tuple(p for p in prefixes if p))

    def __contains__(self, log_group: object) -> bool:
        return isinstance(log_group, str) and (
            log_group in self.names or log_group.startswith(self.prefixes)
        )

"""Find a deployment from its CloudFormation stack: the outputs become the settings.

``logstream --stack-name NAME`` reads the stack's outputs and sets the
variables the functions are configured with (STATE_TABLE, ES_HOST,
INDEX_PREFIX...), so every command runs with exactly the deployment's
settings. The local devstack is found the same way: a stack created in the
moto server with the same outputs (or the variables set by hand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from logstream.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient

#: Stack output -> the setting it gives (template.yaml ``Outputs``).
OUTPUT_SETTINGS: Final[Mapping[str, str]] = {
    "StateTableName": "STATE_TABLE",
    "ClusterEndpoint": "ES_HOST",
    "ClusterAuthMode": "ES_AUTH",
    "ClusterUser": "ES_USER",
    "ClusterPasswordSecretArn": "ES_PASS_SECRET_ARN",
    "IndexNamePrefix": "INDEX_PREFIX",
    "IndexNameLayout": "INDEX_LAYOUT",
    "ShippedLogGroups": "LOG_GROUPS",
    "GroupSelection": "LOG_GROUP_SELECTION",
    "GroupPrefixes": "LOG_GROUP_PREFIXES",
    "GroupExclusions": "EXCLUDED_LOG_GROUPS",
    "DecoderFailureQueueUrl": "FAILURE_QUEUE_URL",
    "DecoderFunctionArn": "DECODER_FUNCTION_ARN",
    "IndexRetentionDays": "RETENTION_DAYS",
}
#: Outputs a stack must have for the commands to work.
REQUIRED_OUTPUTS: Final = ("StateTableName", "ClusterEndpoint", "IndexNamePrefix")


@dataclass(frozen=True, slots=True)
class StackOutputs:
    """A deployed stack's outputs, by output key."""

    stack_name: str
    outputs: dict[str, str] = field(default_factory=dict)

    def settings_env(self) -> dict[str, str]:
        """The variables the outputs give; empty outputs (an unset parameter) are left out."""
        return {
            variable: self.outputs[output]
            for output, variable in OUTPUT_SETTINGS.items()
            if self.outputs.get(output)
        }


def describe_stack(client: CloudFormationClient, stack_name: str) -> StackOutputs:
    """Read ``stack_name``'s outputs; InputError when it is missing or not a logstream stack."""
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise NotFoundError(
                f"stack {stack_name!r} does not exist in this account and region "
                "(check --region / AWS_REGION and the name `sam deploy` used)"
            ) from None
        raise
    outputs = {
        str(o["OutputKey"]): str(o.get("OutputValue", ""))
        for o in stacks[0].get("Outputs", [])
        if "OutputKey" in o
    }
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise InputError(
            f"stack {stack_name!r} has no output {', '.join(missing)}: is it a logstream "
            "stack, deployed from a template.yaml of this version?"
        )
    return StackOutputs(stack_name, outputs)

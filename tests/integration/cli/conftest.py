"""Fixtures for the operator command: a CloudFormation stack in moto that names the local stack.

``logstream --stack-name`` reads the settings from a stack's outputs. Here the
stack is created in the moto server from a small template with the same
outputs as template.yaml, pointing at the test's deployment (its table,
cluster, index prefix) and at an on-failure queue the stack itself creates.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from logstream import clients
from tests.integration.conftest import Deployment


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """``--stack-name`` writes the settings into os.environ: undo it after each test."""
    saved = dict(os.environ)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    yield
    os.environ.clear()
    os.environ.update(saved)
    clients.reset()


@dataclass(frozen=True)
class Stack:
    name: str
    outputs: dict[str, str]

    @property
    def queue_url(self) -> str:
        return self.outputs["DecoderFailureQueueUrl"]


def create_stack(deployment: Deployment, *, outputs: dict[str, object] | None = None) -> Stack:
    """A stack whose outputs are the deployment's settings, and an SQS queue it owns."""
    settings = deployment.settings
    given: dict[str, object] = (
        outputs
        if outputs is not None
        else {
            "StateTableName": settings.state_table,
            "ClusterEndpoint": settings.es_host,
            "ClusterAuthMode": settings.auth_mode.value,
            "IndexNamePrefix": settings.index_prefix,
            "IndexNameLayout": settings.index_layout.value,
            "ShippedLogGroups": ",".join(settings.log_groups) or "none",
            "DecoderFailureQueueUrl": {"Ref": "DecoderFailureQueue"},
        }
    )
    template = {
        "Resources": {
            "DecoderFailureQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": f"failures-{uuid.uuid4().hex[:8]}"},
            }
        },
        "Outputs": {key: {"Value": value} for key, value in given.items()},
    }
    name = f"logstream-{uuid.uuid4().hex[:8]}"
    cloudformation = boto3.client("cloudformation", region_name=settings.aws_region)
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    found = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return Stack(name, found)


def forget_local_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop the variables a stack gives, so only ``--stack-name`` can supply them."""
    for name in ("STATE_TABLE", "ES_HOST", "ES_AUTH", "INDEX_PREFIX", "LOG_GROUPS"):
        monkeypatch.delenv(name, raising=False)
    clients.reset()

"""Stack outputs become the settings; template.yaml has every output the CLI reads."""

from __future__ import annotations

import re
from pathlib import Path

from logstream.operations.stack import OUTPUT_SETTINGS, REQUIRED_OUTPUTS, StackOutputs

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_outputs_map_to_the_functions_variables_and_empty_ones_are_left_out() -> None:
    outputs = StackOutputs(
        "s",
        {
            "StateTableName": "t",
            "ClusterEndpoint": "https://search.example",
            "IndexNamePrefix": "logs",
            "IndexNameLayout": "shared-daily",
            "ClusterPasswordSecretArn": "",
            "DecoderFailureQueueUrl": "https://sqs/q",
            "CommonLayerArn": "arn:layer",
        },
    )
    assert outputs.settings_env() == {
        "STATE_TABLE": "t",
        "ES_HOST": "https://search.example",
        "INDEX_PREFIX": "logs",
        "INDEX_LAYOUT": "shared-daily",
        "FAILURE_QUEUE_URL": "https://sqs/q",
    }


def test_the_template_has_every_output_the_cli_reads() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    outputs_section = text[text.index("\nOutputs:\n") :]
    declared = set(re.findall(r"^  ([A-Za-z0-9]+):$", outputs_section, flags=re.MULTILINE))
    assert set(OUTPUT_SETTINGS) <= declared
    assert set(REQUIRED_OUTPUTS) <= set(OUTPUT_SETTINGS)

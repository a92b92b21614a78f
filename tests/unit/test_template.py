"""template.yaml and samconfig.toml: linted, transformed, and checked for what they promise.

Two checks, because ``sam validate --lint`` alone is not enough:

* ``sam validate --lint`` is what people run. Since cfn-lint 1.x it lints the
  SAM template directly, without the SAM transform, so what SAM generates
  (the AWS::Events::Rule behind a function's ``Schedule`` event, roles, invoke
  configs) is never linted as the CloudFormation that gets deployed: a
  ``rate(5 minutess)`` schedule on a function passes it.
* :func:`check_template` does what CloudFormation does at deploy time, with
  sample parameter values: run the real SAM transform (aws-sam-translator),
  then cfn-lint the resulting CloudFormation with the sample values bound and
  every cfn-lint suppression removed. The negative tests prove it fails on
  broken templates.

The strings the template builds at deploy time (the read policy's ARNs, the
account policy's JSON and selection criteria) are evaluated for given
parameters by ``tests.support.cfn_values``; tests/unit/test_template_limits.py
measures every configuration against AWS's quotas.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode.cfn_yaml import loads as load_cfn_yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

from logstream.naming import IndexLayout
from logstream.observability import Metric
from logstream.settings import Settings
from tests.support.cfn_values import Deployment

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAMCONFIG = REPO / "samconfig.toml"
REGION = "us-east-1"

SERVERLESS = "AWS::Serverless-2016-10-31"
NO_VALUE = {"Ref": "AWS::NoValue"}

Json = dict[str, Any]

SAMPLE_LOG_GROUPS = ("/aws/lambda/app-one", "/ecs/App#Two")
DOMAIN_ARN = "arn:aws:es:us-east-1:123456789012:domain/logs"
COLLECTION_ARN = "arn:aws:aoss:us-east-1:123456789012:collection/abc123def456"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logstream/os-AbCdEf"

#: Deploy-time values for the checked transform (the rest keep their defaults).
SAMPLE_PARAMETERS: Mapping[str, str | tuple[str, ...]] = {
    "LogGroupNames": SAMPLE_LOG_GROUPS,
    "OpenSearchEndpoint": "https://search-logs-abc123.us-east-1.es.amazonaws.com",
    "AuthMode": "sigv4",
    "OpenSearchDomainArn": DOMAIN_ARN,
    "OpenSearchCollectionArn": COLLECTION_ARN,
    "OpenSearchPasswordSecretArn": SECRET_ARN,
    "AlarmEmail": "oncall@example.com",
}

GLOBAL_ENVIRONMENT = {
    "LOGSTREAM_OWN_LOG_GROUP_PREFIXES",
    "ES_HOST",
    "ES_ENGINE",
    "ES_AUTH",
    "ES_USER",
    "ES_PASS_SECRET_ARN",
    "INDEX_PREFIX",
    "INDEX_LAYOUT",
    "BATCH_SIZE",
    "MAX_IN_FLIGHT",
    "HTTP_TIMEOUT_SECS",
    "BACKOFF_BASE_MS",
    "BACKOFF_MAX_MS",
    "LOG_GROUPS",
    "LOG_GROUP_SELECTION",
    "LOG_GROUP_PREFIXES",
    "EXCLUDED_LOG_GROUPS",
    "SUBSCRIPTION_FILTER_NAME",
    "STATE_TABLE",
    "BACKFILL_DAYS",
    "MAPPING_TOTAL_FIELDS_LIMIT",
    "MAPPING_DEPTH_LIMIT",
    "INDEX_REPLICAS",
    "RETENTION_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}

# --------------------------------------------------------------------------
# The check: SAM transform, cfn-lint.
# --------------------------------------------------------------------------


class TemplateExpansionError(ValueError):
    """The template cannot be packaged the way ``sam package`` would."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    problems: list[str]
    transformed: Json | None


def load_template(path: Path = TEMPLATE) -> Json:
    """The template as plain JSON-compatible data (short-form tags become Fn:: dicts)."""
    decoded = load_cfn_yaml(path.read_text(encoding="utf-8"), str(path))
    plain: Json = json.loads(json.dumps(decoded))
    return plain


def _parameter_list(value: str | tuple[str, ...]) -> list[str]:
    return list(value) if isinstance(value, tuple) else [part.strip() for part in value.split(",")]


def _strip_cfn_lint_suppressions(template: Json) -> None:
    metadata = template.get("Metadata")
    if isinstance(metadata, dict):
        metadata.pop("cfn-lint", None)
    for resource in template.get("Resources", {}).values():
        resource_metadata = resource.get("Metadata")
        if isinstance(resource_metadata, dict):
            resource_metadata.pop("cfn-lint", None)
            if not resource_metadata:
                del resource["Metadata"]


def _packaged(template: Json) -> None:
    """Point CodeUri/ContentUri at S3, as ``sam package`` does; the folders must exist."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            uri = properties.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                if not (REPO / uri).is_dir():
                    raise TemplateExpansionError(f"{logical_id}.{key} {uri!r} is not a folder")
                properties[key] = f"s3://logstream-artifacts/{logical_id}.zip"


class _NoManagedPolicyNames:
    """The template names managed policies by ARN only, so nothing needs looking up."""

    def load(self) -> dict[str, str]:
        raise AssertionError("a policy was given by name; use its ARN (no IAM calls in tests)")


def check_template(
    template: Json,
    parameters: Mapping[str, str | tuple[str, ...]] = SAMPLE_PARAMETERS,
    *,
    lint_it: bool = True,
) -> CheckResult:
    """What deploy-time processing plus cfn-lint find in ``template``, ``parameters`` bound.

    ``lint_it=False`` stops after the SAM transform (the limit searches only measure).
    """
    document = copy.deepcopy(template)
    try:
        _strip_cfn_lint_suppressions(document)
        _packaged(document)
    except TemplateExpansionError as error:
        return CheckResult([f"packaging: {error}"], None)

    values = {name: ",".join(_parameter_list(value)) for name, value in parameters.items()}
    try:
        transformed: Json = transform(document, dict(values), _NoManagedPolicyNames())
    except InvalidDocumentException as error:
        return CheckResult([f"sam transform: {cause}" for cause in error.causes], None)
    if not lint_it:
        return CheckResult([], transformed)

    # cfn-lint resolves Refs through parameter defaults: bind the sample values.
    declared = transformed.get("Parameters", {})
    for name, value in values.items():
        if name in declared:
            declared[name]["Default"] = value
    matches = lint(json.dumps(transformed), config=ManualArgs(regions=[REGION]))
    problems = [
        f"{match.rule.id} {'/'.join(str(part) for part in match.path)}: {match.message}"
        for match in matches
        if match.rule.id[:1] in {"E", "W"}
    ]
    return CheckResult(problems, transformed)


# --------------------------------------------------------------------------
# Fixtures and small helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def aws_region() -> Iterator[None]:
    """aws-sam-translator reads the region (for ARNs and partitions) from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        yield


@pytest.fixture(scope="module")
def source() -> Json:
    return load_template()


@pytest.fixture(scope="module")
def checked(source: Json) -> CheckResult:
    return check_template(source)


@pytest.fixture(scope="module")
def deployed(checked: CheckResult) -> Json:
    """The CloudFormation that the sample parameters deploy (only if the check passed)."""
    assert checked.problems == []
    assert checked.transformed is not None
    return checked.transformed


def resources_of(template: Json, resource_type: str) -> dict[str, Json]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    }


def _value(node: Any, parameters: Mapping[str, Any], template: Json) -> Any:
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(_value(items, parameters, template))
    if isinstance(node, dict) and set(node) == {"Ref"}:
        name = node["Ref"]
        if name in parameters:
            value = parameters[name]
            return list(value) if isinstance(value, tuple) else value
        default = template["Parameters"][name].get("Default")
        if template["Parameters"][name]["Type"] == "CommaDelimitedList":
            return [] if default is None else _parameter_list(default)
        return default
    return node


def evaluate(expression: Any, parameters: Mapping[str, Any], template: Json) -> bool:
    """Evaluate a Conditions/Rules expression for given parameter values."""
    if isinstance(expression, dict) and set(expression) == {"Condition"}:
        return evaluate(template["Conditions"][expression["Condition"]], parameters, template)
    (function, arguments), *rest = expression.items()
    assert not rest, expression
    args = [_value(argument, parameters, template) for argument in arguments]
    match function:
        case "Fn::Equals":
            return bool(args[0] == args[1])
        case "Fn::Contains":
            return bool(args[1] in args[0])
        case "Fn::Not":
            return not evaluate(arguments[0], parameters, template)
        case "Fn::And":
            return all(evaluate(argument, parameters, template) for argument in arguments)
        case "Fn::Or":
            return any(evaluate(argument, parameters, template) for argument in arguments)
    raise AssertionError(f"unsupported condition function {function}")


def effective_statements(
    statements: list[Any], parameters: Mapping[str, Any], template: Json
) -> list[Json]:
    """The policy statements that exist for ``parameters`` (Fn::If resolved, NoValue dropped)."""
    chosen: list[Json] = []
    for statement in statements:
        effective = statement
        if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
            condition, when_true, when_false = statement["Fn::If"]
            holds = evaluate(template["Conditions"][condition], parameters, template)
            effective = when_true if holds else when_false
        if effective != NO_VALUE:
            chosen.append(effective)
    return chosen


def failed_rules(parameters: Mapping[str, Any], template: Json) -> list[str]:
    failed = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], parameters, template):
            continue
        if not all(evaluate(a["Assert"], parameters, template) for a in rule["Assertions"]):
            failed.append(name)
    return failed


# --------------------------------------------------------------------------
# The template is valid: sam validate --lint, and the stricter check
# --------------------------------------------------------------------------


def test_sam_validate_lint_passes() -> None:
    sam = Path(sys.executable).with_name("sam")
    assert sam.exists(), f"aws-sam-cli is not installed next to {sys.executable}"
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template-file", str(TEMPLATE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_transformed_template_lints_clean(checked: CheckResult) -> None:
    assert checked.problems == []
    assert checked.transformed is not None


def test_the_template_needs_no_language_extensions(source: Json) -> None:
    # The Serverless Application Repository accepts the SAM transform only, and
    # SAM CLI reads such a template without expanding anything locally.
    assert source["Transform"] == SERVERLESS
    assert "Fn::ForEach" not in json.dumps(source)
    config_text = SAMCONFIG.read_text(encoding="utf-8")
    assert "language_extensions" not in config_text
    build = tomllib.loads(config_text)["default"]["build"]["parameters"]
    assert "parameter_overrides" not in build  # nothing to expand: no placeholder values
    # Prefixes and account modes need no names: LogGroupNames may stay empty.
    assert source["Parameters"]["LogGroupNames"]["Default"] == ""


# --------------------------------------------------------------------------
# The check is honest: broken templates fail it
# --------------------------------------------------------------------------


def _with_missing_getatt(template: Json) -> None:
    template["Outputs"]["DecoderFunctionArn"]["Value"] = {"Fn::GetAtt": ["MissingFunction", "Arn"]}


def _with_python27(template: Json) -> None:
    template["Globals"]["Function"]["Runtime"] = "python2.7"


def _with_bad_events_rule(template: Json) -> None:
    template["Resources"]["NightlyRule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": "rate(5 minutess)",
            "Targets": [{"Id": "decoder", "Arn": {"Fn::GetAtt": ["DecoderFunction", "Arn"]}}],
        },
    }


def _with_bad_sam_schedule(template: Json) -> None:
    # How Backfill/Reconcile/SchemaHeal will be scheduled; `sam validate --lint` passes this.
    decoder = template["Resources"]["DecoderFunction"]["Properties"]
    decoder["Events"] = {
        "Nightly": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutess)"}}
    }


def _with_unknown_condition(template: Json) -> None:
    template["Resources"]["AccountSubscriptionPolicy"]["Condition"] = "SelectAcount"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        pytest.param(_with_missing_getatt, "MissingFunction", id="getatt-missing-resource"),
        pytest.param(_with_python27, "python2.7", id="runtime-python2.7"),
        pytest.param(_with_bad_events_rule, "minutess", id="events-rule-bad-rate"),
        pytest.param(_with_bad_sam_schedule, "minutess", id="sam-schedule-bad-rate"),
        pytest.param(_with_unknown_condition, "SelectAcount", id="unknown-condition"),
    ],
)
def test_check_fails_on_broken_templates(source: Json, breakage: Any, expected: str) -> None:
    broken = copy.deepcopy(source)
    breakage(broken)
    problems = check_template(broken).problems
    assert any(expected in problem for problem in problems), problems


# --------------------------------------------------------------------------
# Structure: what the stack promises
# --------------------------------------------------------------------------


def test_globals_hold_runtime_architecture_layer_and_environment(source: Json) -> None:
    function_globals = source["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == [{"Ref": "Architecture"}]
    architecture = source["Parameters"]["Architecture"]
    assert architecture["Default"] == "arm64"
    assert set(architecture["AllowedValues"]) == {"arm64", "x86_64"}
    layer = source["Resources"]["CommonLayer"]["Properties"]
    assert set(layer["CompatibleArchitectures"]) == {"arm64", "x86_64"}
    assert (function_globals["Timeout"], function_globals["MemorySize"]) == (120, 512)
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "CommonLayer"}]
    variables = function_globals["Environment"]["Variables"]
    assert set(variables) == GLOBAL_ENVIRONMENT
    assert variables["LOG_GROUPS"] == {"Fn::Join": [",", {"Ref": "LogGroupNames"}]}
    assert variables["STATE_TABLE"] == {"Ref": "StateTable"}
    assert variables["LOG_GROUP_SELECTION"] == {"Ref": "SelectionMode"}
    assert variables["LOG_GROUP_PREFIXES"] == {"Fn::Join": [",", {"Ref": "LogGroupPrefixes"}]}
    assert variables["EXCLUDED_LOG_GROUPS"] == {"Fn::Join": [",", {"Ref": "ExcludedLogGroups"}]}
    assert variables["SUBSCRIPTION_FILTER_NAME"] == {"Fn::Sub": "${AWS::StackName}-logstream"}
    for function in resources_of(source, "AWS::Serverless::Function").values():
        overrides = function["Properties"]
        assert "Runtime" not in overrides
        assert "Architectures" not in overrides


def test_the_index_layout_parameter_offers_exactly_the_layouts_settings_accepts(
    source: Json,
) -> None:
    parameter = source["Parameters"]["IndexLayout"]
    assert parameter["AllowedValues"] == [layout.value for layout in IndexLayout]
    assert (
        parameter["Default"]
        == IndexLayout.GROUP_DAILY.value
        == Settings.from_env({"AWS_REGION": "us-east-1"}).index_layout
    )
    for layout in parameter["AllowedValues"]:
        env = {"AWS_REGION": "us-east-1", "INDEX_LAYOUT": layout}
        assert Settings.from_env(env).index_layout.value == layout
    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["INDEX_LAYOUT"] == {"Ref": "IndexLayout"}
    assert source["Outputs"]["IndexNameLayout"]["Value"] == {"Ref": "IndexLayout"}


def test_environment_names_are_the_ones_settings_reads() -> None:
    settings_source = (REPO / "layers/common/logstream/settings.py").read_text(encoding="utf-8")
    for name in sorted(GLOBAL_ENVIRONMENT):
        if not name.startswith("POWERTOOLS_"):  # those are read by Powertools itself
            assert f'"{name}"' in settings_source, name


def test_every_function_has_the_layer_runtime_and_environment(deployed: Json) -> None:
    layers = resources_of(deployed, "AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    (layer_id,) = layers
    assert layer_id.startswith("CommonLayer")
    layer = layers[layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.13"]
    assert layer["CompatibleArchitectures"] == ["arm64", "x86_64"]
    functions = resources_of(deployed, "AWS::Lambda::Function")
    assert "DecoderFunction" in functions
    for function in functions.values():
        properties = function["Properties"]
        assert {"Ref": layer_id} in properties["Layers"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == [{"Ref": "Architecture"}]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        variables = properties["Environment"]["Variables"]
        assert set(variables) >= GLOBAL_ENVIRONMENT
        assert "AWS_REGION" not in variables  # reserved; Lambda sets it
    # Only the backfill reserves concurrency: it bounds CloudWatch read load.
    # The decoder must never be capped (subscription deliveries would throttle).
    reserved = {
        name for name, f in functions.items() if "ReservedConcurrentExecutions" in f["Properties"]
    }
    # Reconcile reserves 1 so scheduled runs never overlap.
    assert "DecoderFunction" not in reserved
    assert {"BackfillFunction", "ReconcileFunction"} <= reserved


def test_layer_is_built_by_sam_for_the_lambda_runtime(source: Json) -> None:
    layer = source["Resources"]["CommonLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    # The makefile builds for the same runtime and architecture, with bytecode.
    makefile = (REPO / "layers/common/Makefile").read_text(encoding="utf-8")
    assert "build-CommonLayer:" in makefile
    assert "PYTHON ?= python3.13" in makefile
    assert "--python-version 3.13" in makefile
    assert "manylinux2014_x86_64" in makefile
    assert "compileall" in makefile
    assert (REPO / "layers/common/requirements.txt").is_file()


def test_decoder_failures_go_to_the_sqs_queue(deployed: Json) -> None:
    configs = [
        config["Properties"]
        for config in resources_of(deployed, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": "DecoderFunction"}
    ]
    assert len(configs) == 1
    (config,) = configs
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    queue_arn = {"Fn::GetAtt": ["DecoderFailureQueue", "Arn"]}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    queue = deployed["Resources"]["DecoderFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    # SAM grants the send itself when the destination is an SQS queue.
    role = deployed["Resources"]["DecoderFunctionRole"]["Properties"]
    grants = [
        statement
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": queue_arn} in grants


def test_state_table_keys_and_protection(deployed: Json) -> None:
    table = deployed["Resources"]["StateTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda d: d["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


MODES: Mapping[str, Mapping[str, str | tuple[str, ...]]] = {
    "list": {"SelectionMode": "list", "LogGroupNames": SAMPLE_LOG_GROUPS},
    "prefixes": {"SelectionMode": "prefixes", "LogGroupPrefixes": ("/aws/lambda/", "/ecs/")},
    "account": {"SelectionMode": "account"},
    "account-with-prefixes": {"SelectionMode": "account", "LogGroupPrefixes": ("/ecs/",)},
}


def bound(source: Json, parameters: Mapping[str, str | tuple[str, ...]]) -> Deployment:
    """The template as deployed with ``parameters`` (the SAM transform applied)."""
    values = {**SAMPLE_PARAMETERS, **parameters}
    checked = check_template(source, values, lint_it=False)
    assert checked.transformed is not None, checked.problems
    return Deployment(checked.transformed, values, stack_name="shipper")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_nothing_is_declared_per_log_group(source: Json, mode: str) -> None:
    """The subscriber function (or the account policy) subscribes: the stack never grows."""
    checked = check_template(source, {**SAMPLE_PARAMETERS, **MODES[mode]}, lint_it=False)
    assert checked.transformed is not None, checked.problems
    deployed = checked.transformed
    assert resources_of(deployed, "AWS::Logs::SubscriptionFilter") == {}
    from_logs = [
        permission["Properties"]
        for permission in resources_of(deployed, "AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    assert from_logs == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["DecoderFunction", "Arn"]},
            "Principal": "logs.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
            },
        }
    ]
    reads = [
        name
        for name, policy in resources_of(deployed, "AWS::IAM::Policy").items()
        if "logs:FilterLogEvents" in json.dumps(policy)
    ]
    assert reads == ["LogGroupRead"]


def _read_statement(source: Json, parameters: Mapping[str, str | tuple[str, ...]]) -> Json:
    deployment = bound(source, parameters)
    policy = deployment.value(deployment.template["Resources"]["LogGroupRead"]["Properties"])
    assert policy["Roles"] == [
        deployment.physical_name("BackfillFunctionRole"),
        deployment.physical_name("ReconcileFunctionRole"),
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["logs:FilterLogEvents", "logs:StartQuery"]
    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGION}}
    return dict(statement)


def test_list_mode_reads_exactly_the_listed_groups(source: Json) -> None:
    statement = _read_statement(source, MODES["list"])
    arn = "arn:*:logs:*:*:log-group:"
    assert statement["Resource"] == [
        *(f"{arn}{group}" for group in SAMPLE_LOG_GROUPS),
        *(f"{arn}{group}:*" for group in SAMPLE_LOG_GROUPS),
    ]
    one = _read_statement(source, {"SelectionMode": "list", "LogGroupNames": ("/only/one",)})
    assert one["Resource"] == [f"{arn}/only/one", f"{arn}/only/one:*"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("prefixes", ["arn:*:logs:*:*:log-group:/aws/lambda/*", "arn:*:logs:*:*:log-group:/ecs/*"]),
        ("account-with-prefixes", ["arn:*:logs:*:*:log-group:/ecs/*"]),
        ("account", [f"arn:aws:logs:{REGION}:123456789012:log-group:*"]),
    ],
)
def test_prefix_and_account_modes_read_what_they_select(
    source: Json, mode: str, expected: list[str]
) -> None:
    assert _read_statement(source, MODES[mode])["Resource"] == expected


def test_the_account_policy_exists_in_account_mode_only(source: Json) -> None:
    policy = source["Resources"]["AccountSubscriptionPolicy"]
    assert policy["Type"] == "AWS::Logs::AccountPolicy"
    assert policy["Condition"] == "SelectAccount"
    assert policy["DependsOn"] == "DecoderInvokeFromLogs"
    for mode, parameters in MODES.items():
        assert bound(source, parameters).exists("AccountSubscriptionPolicy") == mode.startswith(
            "account"
        ), mode


def _account_policy(source: Json, **parameters: str | tuple[str, ...]) -> tuple[Json, str]:
    deployment = bound(source, {"SelectionMode": "account", **parameters})
    policy = deployment.template["Resources"]["AccountSubscriptionPolicy"]
    properties = deployment.value(policy["Properties"])
    assert properties["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"
    assert properties["Scope"] == "ALL"
    assert properties["PolicyName"] == "shipper-logstream"
    document: Json = json.loads(properties["PolicyDocument"])
    assert document["DestinationArn"] == deployment.arn("DecoderFunction")
    assert document["Distribution"] == "Random"
    return document, str(properties["SelectionCriteria"])


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "ERROR",
        '{ $.level = "ERROR" }',
        '[ip, user, status = 5*, msg = "*time out*"]',
        r'%\d{3} "quoted \" inside"%',
        "\\",
    ],
)
def test_the_account_policy_document_is_json_for_any_filter_pattern(
    source: Json, pattern: str
) -> None:
    document, _ = _account_policy(source, FilterPattern=pattern)
    assert document["FilterPattern"] == pattern


def _not_in(criteria: str) -> list[str]:
    prefix, suffix = "LogGroupName NOT IN [", "]"
    assert criteria.startswith(prefix) and criteria.endswith(suffix), criteria
    names: list[str] = json.loads(criteria.removeprefix("LogGroupName NOT IN "))
    return names


def test_the_account_policy_never_selects_logstreams_own_groups(source: Json) -> None:
    """Every log group the stack declares is excluded by name (a feedback loop otherwise)."""
    deployment = bound(source, {"SelectionMode": "account"})
    own = [deployment.physical_name(name) for name in resources_of(source, "AWS::Logs::LogGroup")]
    assert own and all(name.startswith("/aws/lambda/shipper-") for name in own)
    _, criteria = _account_policy(source)
    assert sorted(_not_in(criteria)) == sorted(own)


def test_the_account_policy_excludes_the_excluded_groups_by_name(source: Json) -> None:
    excluded = ("/aws/lambda/noisy", "/ecs/debug-*", "/vpc/flow#logs")
    deployment = bound(source, {"SelectionMode": "account"})
    own = [deployment.physical_name(name) for name in resources_of(source, "AWS::Logs::LogGroup")]
    _, criteria = _account_policy(source, ExcludedLogGroups=excluded)
    # CloudWatch compares exact names: "prefix*" becomes the name "prefix" (the
    # decoder drops the rest of that prefix's groups).
    assert _not_in(criteria) == [*own, "/aws/lambda/noisy", "/ecs/debug-", "/vpc/flow#logs"]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("/aws/lambda/app", True),
        ("/aws/lambda/app-*", True),
        ("/ecs/web.v2#blue_1", True),
        ("", True),  # the default: nothing excluded
        ("*", False),  # would exclude everything
        ("/aws/*/x", False),  # * only at the end
        ('/a"b', False),  # would break the selection criteria's quoting
        (" /aws/lambda/app", False),
    ],
)
def test_excluded_log_groups_take_names_or_trailing_star_prefixes(
    source: Json, value: str, allowed: bool
) -> None:
    pattern = source["Parameters"]["ExcludedLogGroups"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == allowed


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("/aws/lambda/", True), ("/ecs/web.v2#blue_", True), ("/aws/*", False), ('/a"', False)],
)
def test_log_group_prefixes_are_plain_prefixes(source: Json, value: str, allowed: bool) -> None:
    pattern = source["Parameters"]["LogGroupPrefixes"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == allowed


def test_vpc_is_every_function_or_none(source: Json) -> None:
    vpc = {
        "VpcSubnetIds": ("subnet-0a1b2c3d", "subnet-4e5f6a7b"),
        "VpcSecurityGroupIds": ("sg-01",),
    }
    on = check_template(source, {**SAMPLE_PARAMETERS, **vpc})
    assert on.problems == []
    assert on.transformed is not None
    off = {**SAMPLE_PARAMETERS, "VpcSubnetIds": "", "VpcSecurityGroupIds": ""}
    for logical_id, function in resources_of(on.transformed, "AWS::Lambda::Function").items():
        config = Deployment(on.transformed, {**SAMPLE_PARAMETERS, **vpc}).value(
            function["Properties"]
        )["VpcConfig"]
        assert config == {
            "SubnetIds": list(vpc["VpcSubnetIds"]),
            "SecurityGroupIds": list(vpc["VpcSecurityGroupIds"]),
        }, logical_id
        assert "VpcConfig" not in Deployment(on.transformed, off).value(function["Properties"]), (
            logical_id
        )
        # SAM adds the ENI policy to every role that declares VpcConfig, even
        # through an !If: ENI management only, on or off (README "VPC").
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        arns = on.transformed["Resources"][role_id]["Properties"]["ManagedPolicyArns"]
        assert any("service-role/AWSLambdaVPCAccessExecutionRole" in json.dumps(a) for a in arns)


def test_every_function_owns_its_log_group(source: Json) -> None:
    # Explicit groups get a retention and keep logstream's own logs out of
    # LogGroupNames' reach (a subscribed decoder group is an endless loop).
    groups = {
        json.dumps(group["Properties"]["LogGroupName"]): group["Properties"]
        for group in resources_of(source, "AWS::Logs::LogGroup").values()
    }
    for function_id in resources_of(source, "AWS::Serverless::Function"):
        name = json.dumps({"Fn::Sub": f"/aws/lambda/${{{function_id}}}"})
        assert name in groups, f"{function_id} has no AWS::Logs::LogGroup"
        assert groups[name]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        pytest.param(
            {"AuthMode": "sigv4", "OpenSearchDomainArn": DOMAIN_ARN},
            {
                "StateTable",
                "DescribeLogGroups",
                "OpenSearchBulk",
                "OpenSearchOwnTemplates",
                "OpenSearchOwnIndicesRead",
            },
            id="sigv4",
        ),
        pytest.param(
            {"AuthMode": "sigv4-aoss", "OpenSearchCollectionArn": COLLECTION_ARN},
            {"StateTable", "DescribeLogGroups", "OpenSearchServerless"},
            id="sigv4-aoss",
        ),
        pytest.param(
            {"AuthMode": "basic", "OpenSearchPasswordSecretArn": SECRET_ARN},
            {"StateTable", "DescribeLogGroups", "ClusterPassword"},
            id="basic-with-secret",
        ),
        pytest.param({"AuthMode": "none"}, {"StateTable", "DescribeLogGroups"}, id="none"),
    ],
)
def test_iam_grants_only_what_the_auth_mode_needs(
    source: Json, parameters: dict[str, str], expected: set[str]
) -> None:
    document = source["Resources"]["ShipperAccessPolicy"]["Properties"]["PolicyDocument"]
    statements = effective_statements(document["Statement"], parameters, source)
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert set(by_sid) == expected
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert sorted(by_sid["StateTable"]["Action"]) == [
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert by_sid["DescribeLogGroups"]["Action"] == "logs:DescribeLogGroups"
    assert by_sid["StateTable"]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
    if "OpenSearchBulk" in by_sid:
        # Every function: _bulk, its own templates, its own indices' mappings; nothing domain-wide.
        assert by_sid["OpenSearchBulk"]["Action"] == "es:ESHttpPost"
        assert by_sid["OpenSearchBulk"]["Resource"] == {"Fn::Sub": "${OpenSearchDomainArn}/_bulk"}
        assert sorted(by_sid["OpenSearchOwnTemplates"]["Action"]) == [
            "es:ESHttpGet",
            "es:ESHttpPut",
        ]
        assert by_sid["OpenSearchOwnTemplates"]["Resource"] == {
            "Fn::Sub": "${OpenSearchDomainArn}/_index_template/${IndexPrefix}-*"
        }
        assert sorted(by_sid["OpenSearchOwnIndicesRead"]["Action"]) == [
            "es:ESHttpGet",
            "es:ESHttpHead",
        ]
        assert by_sid["OpenSearchOwnIndicesRead"]["Resource"] == {
            "Fn::Sub": "${OpenSearchDomainArn}/${IndexPrefix}-*"
        }
    if "OpenSearchServerless" in by_sid:
        assert by_sid["OpenSearchServerless"]["Action"] == "aoss:APIAccessAll"
        assert by_sid["OpenSearchServerless"]["Resource"] == {
            "Fn::Sub": "${OpenSearchCollectionArn}"
        }
    if "ClusterPassword" in by_sid:
        assert by_sid["ClusterPassword"]["Action"] == "secretsmanager:GetSecretValue"
        assert by_sid["ClusterPassword"]["Resource"] == {"Ref": "OpenSearchPasswordSecretArn"}
    for statement in statements:
        assert "*" not in json.dumps(statement["Action"])


def _domain_resources(statement: Json) -> list[str]:
    resources = statement["Resource"]
    return [r["Fn::Sub"] for r in (resources if isinstance(resources, list) else [resources])]


def test_no_function_gets_the_whole_domain(deployed: Json) -> None:
    """es:ESHttp* only ever on this deployment's paths; DELETE for the healer alone."""
    policies = {
        **resources_of(deployed, "AWS::IAM::Policy"),
        **resources_of(deployed, "AWS::IAM::ManagedPolicy"),
    }
    deleting: set[str] = set()
    for name, policy in policies.items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if not isinstance(statement, dict) or "Effect" not in statement:
                continue  # an !If left unresolved in the deployed view
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            if not any(a.startswith("es:") for a in actions):
                continue
            for resource in _domain_resources(statement):
                assert resource != "${OpenSearchDomainArn}/*", name
                path = resource.removeprefix("${OpenSearchDomainArn}/")
                cluster_reads = {"_cluster/health", "_cluster/settings"}
                if path in cluster_reads:  # the shard budget: GET only, retention only
                    assert (name, actions) == ("RetentionDomainAccess", ["es:ESHttpGet"])
                    continue
                assert path in {"_bulk", "_search/scroll"} or "${IndexPrefix}" in path, name
            if "es:ESHttpDelete" in actions:
                deleting.add(name)
    assert deleting == {"SchemaHealDomainAccess", "RetentionDomainAccess"}
    retention = policies["RetentionDomainAccess"]["Properties"]
    assert retention["Roles"] == [{"Ref": "RetentionFunctionRole"}]
    (deletes,) = [
        s for s in retention["PolicyDocument"]["Statement"] if "es:ESHttpDelete" in s["Action"]
    ]
    assert _domain_resources(deletes) == ["${OpenSearchDomainArn}/${IndexPrefix}-*"]
    healer = policies["SchemaHealDomainAccess"]["Properties"]
    assert healer["Roles"] == [{"Ref": "SchemaHealFunctionRole"}]
    own = healer["PolicyDocument"]["Statement"][0]
    assert _domain_resources(own) == [
        "${OpenSearchDomainArn}/${IndexPrefix}-*",
        "${OpenSearchDomainArn}/${IndexPrefix}_heal_*",
    ]
    reconcile = policies["ReconcileDomainRead"]["Properties"]
    assert reconcile["Roles"] == [{"Ref": "ReconcileFunctionRole"}]


def test_query_results_are_granted_where_iam_can_match_them(deployed: Json) -> None:
    # GetQueryResults and StopQuery take a query id, not a log group: no resource-level
    # permissions, so a log-group ARN would never match and the call would be denied.
    policies = resources_of(deployed, "AWS::IAM::Policy")
    for name, policy in policies.items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = json.dumps(statement["Action"])
            if "logs:GetQueryResults" in actions or "logs:StopQuery" in actions:
                assert name == "LogsQueryResults"
                assert statement["Resource"] == "*"
                assert sorted(statement["Action"]) == ["logs:GetQueryResults", "logs:StopQuery"]
    roles = policies["LogsQueryResults"]["Properties"]["Roles"]
    assert roles == [{"Ref": "BackfillFunctionRole"}, {"Ref": "ReconcileFunctionRole"}]


def test_every_function_role_gets_the_shared_policy(deployed: Json) -> None:
    for function in resources_of(deployed, "AWS::Lambda::Function").values():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        role = deployed["Resources"][role_id]["Properties"]
        assert {"Ref": "ShipperAccessPolicy"} in role["ManagedPolicyArns"]


@pytest.mark.parametrize(
    ("parameters", "failed"),
    [
        pytest.param({"AuthMode": "sigv4", "OpenSearchDomainArn": DOMAIN_ARN}, [], id="sigv4-ok"),
        pytest.param({"AuthMode": "sigv4"}, ["SigV4NeedsDomainArn"], id="sigv4-no-domain"),
        pytest.param({"AuthMode": "sigv4-aoss"}, ["SigV4AossNeedsCollectionArn"], id="aoss-no-arn"),
        pytest.param({"AuthMode": "basic"}, ["BasicNeedsPasswordSecret"], id="basic-no-secret"),
        pytest.param(
            {"AuthMode": "none", "LogGroupNames": ("",)}, ["LogGroupNamesGiven"], id="empty"
        ),
        pytest.param(
            {"AuthMode": "none", "LogGroupNames": ("/a", "")}, ["LogGroupNamesGiven"], id="gap"
        ),
        pytest.param(
            {"AuthMode": "none", "SelectionMode": "prefixes", "LogGroupNames": ("",)},
            ["LogGroupPrefixesGiven"],
            id="prefixes-none-given",
        ),
        pytest.param(
            {
                "AuthMode": "none",
                "SelectionMode": "prefixes",
                "LogGroupNames": ("",),
                "LogGroupPrefixes": ("/ecs/",),
            },
            [],
            id="prefixes-without-names",
        ),
        pytest.param(
            {"AuthMode": "none", "SelectionMode": "account", "LogGroupNames": ("",)},
            [],
            id="account-needs-nothing",
        ),
        pytest.param(
            {"AuthMode": "none", "VpcSubnetIds": ("subnet-01",)},
            ["VpcSubnetsNeedSecurityGroups"],
            id="vpc-subnets-only",
        ),
        pytest.param(
            {"AuthMode": "none", "VpcSecurityGroupIds": ("sg-01",)},
            ["VpcSecurityGroupsNeedSubnets"],
            id="vpc-groups-only",
        ),
        pytest.param(
            {"AuthMode": "none", "VpcSubnetIds": ("subnet-01",), "VpcSecurityGroupIds": ("sg-1",)},
            [],
            id="vpc-both",
        ),
    ],
)
def test_rules_refuse_incomplete_parameters(
    source: Json, parameters: dict[str, Any], failed: list[str]
) -> None:
    bound = {"LogGroupNames": SAMPLE_LOG_GROUPS, **parameters}
    assert failed_rules(bound, source) == failed


def test_alarms_notify_the_topic(source: Json) -> None:
    alarms = resources_of(source, "AWS::CloudWatch::Alarm")
    watched = {
        (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"])
        for alarm in alarms.values()
    }
    assert watched == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("Logstream", "DocumentsQuarantined"),
        ("Logstream", "ReconcileGapsOpen"),
        ("Logstream", "DriftUnresolved"),
        ("Logstream", "GroupsRefusedTwoFilters"),
        ("Logstream", "ShardBudgetUsedPercent"),
    }
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["Threshold"] == (80 if name == "ShardBudgetAlarm" else 0)
        assert properties["ComparisonOperator"] == "GreaterThanThreshold"
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    subscription = source["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert evaluate(source["Conditions"]["HasAlarmEmail"], {"AlarmEmail": ""}, source) is False
    assert evaluate(source["Conditions"]["HasAlarmEmail"], {"AlarmEmail": "a@b.c"}, source) is True


def test_quarantine_alarm_matches_what_powertools_emits(source: Json) -> None:
    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    (alarm,) = [
        alarm["Properties"]
        for alarm in resources_of(source, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["MetricName"] == "DocumentsQuarantined"
    ]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    observability = (REPO / "layers/common/logstream/observability.py").read_text(encoding="utf-8")
    assert '"DocumentsQuarantined"' in observability


RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between runs of an EventBridge ``rate(N unit)`` expression."""
    match = re.fullmatch(r"rate\(([1-9][0-9]*) (minute|hour|day)(s?)\)", expression)
    assert match, f"{expression!r} is not an EventBridge rate expression"
    count, unit, plural = int(match[1]), match[2], match[3]
    # EventBridge wants "1 minute" but "2 minutes": any other spelling is refused.
    assert (count == 1) == (plural == ""), f"{expression!r}: singular unit for 1 only"
    return count * RATE_UNIT_SECONDS[unit]


def _reconcile_schedule_rule(deployed: Json) -> Json:
    reconcile_arn = {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
    rules: list[Json] = [
        rule["Properties"]
        for rule in resources_of(deployed, "AWS::Events::Rule").values()
        if any(target["Arn"] == reconcile_arn for target in rule["Properties"]["Targets"])
    ]
    assert len(rules) == 1, rules
    return rules[0]


def test_reconcile_interval_secs_drives_the_schedule(source: Json, deployed: Json) -> None:
    # RECONCILE_INTERVAL_SECS (default 900) is the seed README's name: the
    # parameter carries it, the schedule runs that often, the function is told.
    parameter = source["Parameters"]["ReconcileIntervalSecs"]
    # String keys: SAM CLI's local Fn::FindInMap (sam build) refuses a Number's default.
    assert parameter["Type"] == "String"
    allowed = parameter["AllowedValues"]
    assert all(isinstance(value, str) for value in [parameter["Default"], *allowed])
    defaults = Settings.from_env({"AWS_REGION": REGION})
    assert int(parameter["Default"]) == defaults.reconcile_interval_secs == 900
    assert parameter["Default"] in allowed
    rule = _reconcile_schedule_rule(deployed)
    lookup = {"Fn::FindInMap": ["ReconcileSchedule", {"Ref": "ReconcileIntervalSecs"}, "Rate"]}
    assert rule["ScheduleExpression"] == lookup
    assert rule["State"] == "ENABLED"
    rows = deployed["Mappings"]["ReconcileSchedule"]
    assert sorted(rows, key=int) == sorted(allowed, key=int)
    for value in allowed:
        assert rate_seconds(rows[value]["Rate"]) == int(value), value
        told = Settings.from_env({"AWS_REGION": REGION, "RECONCILE_INTERVAL_SECS": value})
        assert told.reconcile_interval_secs == int(value)
    variables = deployed["Resources"]["ReconcileFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["RECONCILE_INTERVAL_SECS"] == {"Ref": "ReconcileIntervalSecs"}
    # Each alarm period holds one run, so an open gap keeps its alarm raised.
    for alarm_id in ("ReconcileErrorsAlarm", "ReconcileGapsOpenAlarm"):
        period = deployed["Resources"][alarm_id]["Properties"]["Period"]
        assert period == {"Ref": "ReconcileIntervalSecs"}, alarm_id


def test_the_longest_reconcile_interval_lints_clean(source: Json) -> None:
    longest = max(source["Parameters"]["ReconcileIntervalSecs"]["AllowedValues"], key=int)
    checked = check_template(source, {**SAMPLE_PARAMETERS, "ReconcileIntervalSecs": longest})
    assert checked.problems == []


def test_rate_seconds_reads_eventbridge_rates() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(15 minutes)") == 900
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    for wrong in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 * * * ? *)"):
        with pytest.raises(AssertionError):
            rate_seconds(wrong)


def test_outputs(source: Json) -> None:
    assert set(source["Outputs"]) == {
        "DecoderFunctionArn",
        "DecoderFailureQueueUrl",
        "StateTableName",
        "CommonLayerArn",
        "AlarmTopicArn",
        "BackfillFunctionName",
        "ReconcileFunctionName",
        "SchemaHealFunctionName",
        "RetentionFunctionName",
        "DashboardUrl",
        # What `logstream --stack-name` reads as its settings (logstream.operations.stack).
        "ClusterEndpoint",
        "ClusterAuthMode",
        "ClusterUser",
        "ClusterPasswordSecretArn",
        "IndexNamePrefix",
        "IndexNameLayout",
        "ShippedLogGroups",
        "GroupSelection",
        "GroupPrefixes",
        "GroupExclusions",
        "SubscriberFunctionName",
        # Transport=kinesis only (tests/unit/test_template_kinesis.py).
        "LogDestinationArn",
        "LogStreamArn",
        "LogsToKinesisRoleArn",
        "IndexRetentionDays",
    }


def test_samconfig() -> None:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    default = config["default"]
    build = default["build"]["parameters"]
    assert (build["cached"], build["parallel"]) == (True, True)
    assert default["validate"]["parameters"]["lint"] is True
    deploy = default["deploy"]["parameters"]
    assert deploy["stack_name"] == "logstream"
    assert deploy["resolve_s3"] is True
    assert deploy["capabilities"] == "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
    assert deploy["confirm_changeset"] is True
    assert deploy["region"] == REGION
    assert default["sync"]["parameters"]["watch"] is False


# --------------------------------------------------------------------------
# The CloudWatch dashboard, the Serverless Application Repository metadata,
# and `sam local invoke`'s configuration
# --------------------------------------------------------------------------

SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


def _dashboard_body(source: Json) -> Json:
    """The dashboard body as CloudFormation's Fn::Sub would produce it, parsed."""
    dashboard = source["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    names = set(SUBSTITUTION.findall(body))
    resources = source["Resources"]
    for name in names:
        logical_id, _, attribute = name.partition(".")
        assert (
            logical_id in resources
            or logical_id in source["Parameters"]
            or logical_id.startswith("AWS::")
        ), name
        if attribute:
            assert attribute in {"Arn", "QueueName"}, name
    parsed: Json = json.loads(SUBSTITUTION.sub(lambda m: f"resolved-{m[1]}", body))
    return parsed


def _dashboard_metrics(body: Json) -> list[list[Any]]:
    return [
        metric
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]


def test_the_dashboard_body_is_json_after_substitution(source: Json) -> None:
    body = _dashboard_body(source)
    widgets = body["widgets"]
    titles = {w["properties"].get("title", "") for w in widgets}
    for wanted in (
        "Delivery",
        "Lag",
        "Retries",
        "Quarantine",
        "Failures",
        "Backfill",
        "Reconciliation gaps",
        "Schema healer decisions",
    ):
        assert any(title.startswith(wanted) for title in titles), wanted
    for widget in widgets:  # the grid is 24 columns wide
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24, widget
    # The alarm widget shows every alarm of the stack.
    (alarms,) = [w for w in widgets if w["type"] == "alarm"]
    declared = resources_of(source, "AWS::CloudWatch::Alarm")
    assert {
        a.removeprefix("resolved-").removesuffix(".Arn") for a in alarms["properties"]["alarms"]
    } == set(declared)


def test_every_dashboard_metric_is_one_the_code_emits(source: Json) -> None:
    """Fails when a Metric is renamed (or a dashboard line names one that never existed)."""
    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    namespace = variables["POWERTOOLS_METRICS_NAMESPACE"]
    service = variables["POWERTOOLS_SERVICE_NAME"]
    emitted = {metric.value for metric in Metric}
    named: set[str] = set()
    for metric in _dashboard_metrics(_dashboard_body(source)):
        space, name, *dimensions = metric
        options = dimensions.pop() if dimensions and isinstance(dimensions[-1], dict) else {}
        assert options.get("stat", "Sum") in {"Sum", "Maximum", "Average", "p50", "p99"}
        if space == namespace:
            assert dimensions == ["service", service], metric
            assert name in emitted, f"{name} is not a logstream.observability.Metric"
            named.add(name)
        else:
            assert space in {"AWS/Lambda", "AWS/SQS"}, metric
    # The groups the dashboard promises are all on it.
    for wanted in (
        Metric.DOCUMENTS_DELIVERED,
        Metric.BATCH_LATENCY,
        Metric.RECONCILE_LAG,
        Metric.DOCUMENTS_RETRIED,
        Metric.DOCUMENTS_QUARANTINED,
        Metric.DOCUMENTS_UNDELIVERED,
        Metric.BACKFILL_EVENTS,
        Metric.RECONCILE_GAPS_OPEN,
        Metric.DRIFT_DECISIONS,
    ):
        assert wanted.value in named, wanted


def test_the_failure_queue_and_every_function_are_on_the_dashboard(source: Json) -> None:
    metrics = _dashboard_metrics(_dashboard_body(source))
    depth = [m for m in metrics if m[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]]
    assert [m[3] for m in depth] == ["resolved-DecoderFailureQueue.QueueName"]
    errors = {m[3] for m in metrics if m[:2] == ["AWS/Lambda", "Errors"]}
    functions = resources_of(source, "AWS::Serverless::Function")
    assert errors == {f"resolved-{name}" for name in functions}


def test_the_deployed_dashboard_is_linted_cloudformation(deployed: Json) -> None:
    (dashboard,) = resources_of(deployed, "AWS::CloudWatch::Dashboard").values()
    assert "Fn::Sub" in dashboard["Properties"]["DashboardBody"]
    assert "Dashboard" in json.dumps(deployed["Outputs"]["DashboardUrl"])


def test_serverless_application_repository_metadata(source: Json) -> None:
    application = source["Metadata"]["AWS::ServerlessRepo::Application"]
    required = {
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "SemanticVersion",
        "SourceCodeUrl",
        "HomePageUrl",
    }
    assert required <= set(application)
    assert application["SpdxLicenseId"] == "MIT"
    assert "MIT License" in (REPO / application["LicenseUrl"]).read_text(encoding="utf-8")
    assert (REPO / application["ReadmeUrl"]).is_file()
    assert re.fullmatch(r"\d+\.\d+\.\d+", application["SemanticVersion"])
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert application["SemanticVersion"] == project["version"]
    for url in ("SourceCodeUrl", "HomePageUrl"):
        assert application[url].startswith("https://"), url
    assert len(application["Description"]) <= 256  # the repository's limit


def test_sam_local_invoke_is_configured() -> None:
    """`sam local invoke -e events/<event>.json <Function>` gets an env file whose keys
    are the functions."""
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))["default"]
    local = config["local_invoke"]["parameters"]
    assert "LogGroupNames=" in local["parameter_overrides"]
    env_file = REPO / local["env_vars"]
    assert env_file.is_file()
    env = json.loads(env_file.read_text(encoding="utf-8"))
    source = load_template()
    functions = resources_of(source, "AWS::Serverless::Function")
    assert set(env) == set(functions)
    global_names = set(source["Globals"]["Function"]["Environment"]["Variables"])
    for name, variables in env.items():
        own = functions[name]["Properties"].get("Environment", {}).get("Variables", {})
        # SAM only overrides variables the template declares for the function.
        assert set(variables) <= global_names | set(own), name
        assert all(isinstance(value, str) for value in variables.values()), name
        settings = Settings.from_env({"AWS_REGION": REGION, **variables})
        assert settings.auth_mode == "none"


def test_shard_budget_alarm_watches_what_the_retention_run_publishes(source: Json) -> None:
    from logstream.observability import Metric  # noqa: PLC0415

    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    alarm = source["Resources"]["ShardBudgetAlarm"]["Properties"]
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == Metric.SHARD_BUDGET_USED.value
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 80)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    schedule = source["Resources"]["RetentionFunction"]["Properties"]["Events"]["Hourly"]
    rate = {"Fn::Sub": "rate(${RetentionScheduleMinutes} minutes)"}
    assert schedule["Properties"]["Schedule"] == rate
    assert alarm["Period"] >= 60 * source["Parameters"]["RetentionScheduleMinutes"]["Default"]


def test_lifecycle_parameters_reach_the_settings(source: Json) -> None:
    from logstream.settings import Settings  # noqa: PLC0415

    parameters = source["Parameters"]
    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    assert variables["INDEX_REPLICAS"] == {"Ref": "IndexReplicas"}
    for name, variable, default in (
        ("RetentionDays", "RETENTION_DAYS", 0),
        ("IndexReplicas", "INDEX_REPLICAS", 1),
    ):
        parameter = parameters[name]
        assert parameter["Default"] == default
        assert parameter["Description"]
        env = {"AWS_REGION": "us-east-1"}
        for edge in (parameter["MinValue"], parameter["MaxValue"]):
            Settings.from_env({**env, variable: str(edge)})  # every allowed value is accepted
        with pytest.raises(ValueError, match=variable):
            Settings.from_env({**env, variable: str(parameter["MaxValue"] + 1)})

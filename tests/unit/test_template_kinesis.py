"""Transport=kinesis in template.yaml, and templates/source-account.yaml.

Each variant is compiled the way CloudFormation would deploy it (language
extensions, the SAM transform, cfn-lint with the values bound: see
``check_template`` in test_template.py); then the parts that carry the
guarantees are read back with the conditions and intrinsic functions resolved
for those values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.support.language_extensions import expanded_template
from tests.unit.test_template import (
    REGION,
    REPO,
    SAMPLE_PARAMETERS,
    Json,
    check_template,
    evaluate,
    load_template,
    resources_of,
)

SOURCE_TEMPLATE = REPO / "templates" / "source-account.yaml"
ACCOUNTS = ("111111111111", "222222222222")
ORGANIZATION = "o-abcdefghij"
STACK = "logstream"
CENTRAL_ACCOUNT = "123456789012"
DESTINATION = f"arn:aws:logs:{REGION}:{CENTRAL_ACCOUNT}:destination:{STACK}-logstream"
KINESIS_RESOURCES = {
    "LogStream",
    "LogsToKinesisRole",
    "DecoderKinesisRead",
    "DecoderKinesisMapping",
}
VARIANTS: dict[str, Mapping[str, str | tuple[str, ...]]] = {
    "lambda": {},
    "kinesis-local": {"Transport": "kinesis"},
    "kinesis-accounts": {"Transport": "kinesis", "SourceAccountIds": ACCOUNTS},
    "kinesis-org": {"Transport": "kinesis", "OrganizationId": ORGANIZATION},
    "kinesis-both": {
        "Transport": "kinesis",
        "SourceAccountIds": ACCOUNTS[:1],
        "OrganizationId": ORGANIZATION,
    },
}


@pytest.fixture(scope="module", autouse=True)
def aws_region() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        yield


@pytest.fixture(scope="module")
def central() -> Json:
    return load_template()


@pytest.fixture(scope="module")
def compiled(central: Json) -> dict[str, Json]:
    """Each variant's deployed CloudFormation (the check must find nothing first)."""
    out: dict[str, Json] = {}
    for name, extra in VARIANTS.items():
        result = check_template(central, {**SAMPLE_PARAMETERS, **extra})
        assert result.problems == [], name
        assert result.transformed is not None
        out[name] = result.transformed
    return out


def _parameters(variant: str) -> dict[str, Any]:
    return {**SAMPLE_PARAMETERS, **VARIANTS[variant]}


def _exists(template: Json, logical_id: str, parameters: Mapping[str, Any]) -> bool:
    condition = template["Resources"][logical_id].get("Condition")
    return condition is None or Resolver(parameters, template).holds({"Condition": condition})


def resolve(node: Any, parameters: Mapping[str, Any], template: Json) -> Any:
    """``node`` with Fn::If, Fn::Join, Fn::Sub, Fn::Split, Ref resolved (GetAtt left as is)."""
    return Resolver(parameters, template).resolve(node)


_NO_VALUE = object()


class Resolver:
    """What CloudFormation makes of intrinsic functions and conditions for given values."""

    def __init__(self, parameters: Mapping[str, Any], template: Json) -> None:
        self._template = template
        self._values: dict[str, Any] = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": CENTRAL_ACCOUNT,
            "AWS::StackName": STACK,
        }
        for name, declared in template.get("Parameters", {}).items():
            value = parameters.get(name, declared.get("Default", ""))
            if declared["Type"] == "CommaDelimitedList":
                value = list(value) if isinstance(value, tuple) else value.split(",")
            self._values[name] = value

    def holds(self, expression: Any) -> bool:
        (function, arguments), *rest = expression.items()
        assert not rest, expression
        match function:
            case "Condition":
                return self.holds(self._template["Conditions"][arguments])
            case "Fn::Equals":
                return bool(self.resolve(arguments[0]) == self.resolve(arguments[1]))
            case "Fn::Not":
                return not self.holds(arguments[0])
            case "Fn::And":
                return all(self.holds(argument) for argument in arguments)
            case "Fn::Or":
                return any(self.holds(argument) for argument in arguments)
        raise AssertionError(f"unsupported condition function {function}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            functions: dict[str, Callable[[Any], Any]] = {
                "Ref": self._ref,
                "Fn::If": self._if,
                "Fn::Join": self._join,
                "Fn::Split": self._split,
                "Fn::Sub": self._sub,
            }
            function = functions.get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        return _NO_VALUE if name == "AWS::NoValue" else self._values[name]

    def _if(self, argument: list[Any]) -> Any:
        condition, when_true, when_false = argument
        return self.resolve(when_true if self.holds({"Condition": condition}) else when_false)

    def _join(self, argument: list[Any]) -> str:
        delimiter, parts = argument
        return str(delimiter).join(str(part) for part in self.resolve(parts))

    def _split(self, argument: list[Any]) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        names = {**self._values, **{k: self.resolve(v) for k, v in variables.items()}}
        for name, value in names.items():
            text = text.replace(f"${{{name}}}", str(value))
        assert "${" not in text, text
        return str(text)


# --------------------------------------------------------------------------
# The central template
# --------------------------------------------------------------------------


def test_transport_parameters(central: Json) -> None:
    parameters = central["Parameters"]
    assert parameters["Transport"]["Default"] == "lambda"
    assert set(parameters["Transport"]["AllowedValues"]) == {"lambda", "kinesis"}
    assert parameters["SourceAccountIds"]["Type"] == "CommaDelimitedList"
    assert parameters["OrganizationId"]["Default"] == ""
    for name in ("Transport", "SourceAccountIds", "OrganizationId"):
        assert parameters[name]["Description"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_kinesis_resources_exist_only_with_transport_kinesis(
    compiled: dict[str, Json], variant: str
) -> None:
    template = compiled[variant]
    parameters = _parameters(variant)
    present = {name for name in KINESIS_RESOURCES if _exists(template, name, parameters)}
    assert present == (KINESIS_RESOURCES if variant != "lambda" else set())
    across = variant in {"kinesis-accounts", "kinesis-org", "kinesis-both"}
    assert _exists(template, "LogDestination", parameters) is across


def test_the_stream_is_on_demand_and_encrypted(compiled: dict[str, Json]) -> None:
    stream = compiled["kinesis-local"]["Resources"]["LogStream"]
    assert stream["Type"] == "AWS::Kinesis::Stream"
    properties = stream["Properties"]
    assert properties["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert properties["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert "ShardCount" not in properties


def test_the_mapping_reports_partial_failures_with_bounded_retries(
    compiled: dict[str, Json],
) -> None:
    template = compiled["kinesis-local"]
    mapping = template["Resources"]["DecoderKinesisMapping"]
    assert mapping["DependsOn"] == "DecoderKinesisRead"
    properties = mapping["Properties"]
    assert properties["FunctionName"] == {"Ref": "DecoderFunction"}
    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["LogStream", "Arn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert 0 <= properties["MaximumRetryAttempts"] <= 10
    assert properties["MaximumRecordAgeInSeconds"] <= 24 * 3600  # within the stream's retention
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    queue = {"Fn::GetAtt": ["DecoderFailureQueue", "Arn"]}
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    # The decoder's role may send to that queue (SAM grants it for the async config) ...
    role = template["Resources"]["DecoderFunctionRole"]["Properties"]
    grants = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": queue} in grants
    # ... and read exactly this stream.
    read = template["Resources"]["DecoderKinesisRead"]["Properties"]
    assert read["Roles"] == [{"Ref": "DecoderFunctionRole"}]
    (statement,) = read["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["LogStream", "Arn"]}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator"} <= set(statement["Action"])


def test_the_decoder_is_told_the_transport(central: Json) -> None:
    decoder = central["Resources"]["DecoderFunction"]["Properties"]
    assert decoder["Environment"]["Variables"]["TRANSPORT"] == {"Ref": "Transport"}
    settings_source = (REPO / "layers/common/logstream/settings.py").read_text(encoding="utf-8")
    assert '"TRANSPORT"' in settings_source


def _trust(variant: str, compiled: dict[str, Json]) -> list[Json]:
    template = compiled[variant]
    role = template["Resources"]["LogsToKinesisRole"]["Properties"]
    document = resolve(role["AssumeRolePolicyDocument"], _parameters(variant), template)
    statements: list[Json] = document["Statement"]
    for statement in statements:
        assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"]  # never an unconditioned service principal
    return statements


def test_logs_assumes_the_role_only_for_the_allowed_accounts(compiled: dict[str, Json]) -> None:
    (local,) = _trust("kinesis-local", compiled)
    assert local["Condition"] == {
        "StringLike": {"aws:SourceArn": f"arn:aws:logs:{REGION}:{CENTRAL_ACCOUNT}:*"}
    }
    _, accounts = _trust("kinesis-accounts", compiled)
    assert accounts["Condition"]["StringLike"]["aws:SourceArn"] == [
        f"arn:*:logs:*:{account}:*" for account in ACCOUNTS
    ]
    _, organization = _trust("kinesis-org", compiled)
    assert organization["Condition"] == {"StringEquals": {"aws:SourceOrgID": ORGANIZATION}}
    assert len(_trust("kinesis-both", compiled)) == 3


@pytest.mark.parametrize("variant", ["kinesis-accounts", "kinesis-org", "kinesis-both"])
def test_the_destination_policy_is_json_for_the_sources(
    compiled: dict[str, Json], variant: str
) -> None:
    template = compiled[variant]
    destination = template["Resources"]["LogDestination"]["Properties"]
    assert destination["TargetArn"] == {"Fn::GetAtt": ["LogStream", "Arn"]}
    assert destination["RoleArn"] == {"Fn::GetAtt": ["LogsToKinesisRole", "Arn"]}
    name = resolve(destination["DestinationName"], _parameters(variant), template)
    policy = json.loads(resolve(destination["DestinationPolicy"], _parameters(variant), template))
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    for statement in by_sid.values():
        assert statement["Action"] == "logs:PutSubscriptionFilter"
        assert (
            statement["Resource"] == f"arn:aws:logs:{REGION}:{CENTRAL_ACCOUNT}:destination:{name}"
        )
        assert statement["Resource"] == DESTINATION
    accounts = list(VARIANTS[variant].get("SourceAccountIds", ()))
    if accounts:
        assert by_sid["SourceAccounts"]["Principal"] == {"AWS": accounts}
    if "OrganizationId" in VARIANTS[variant]:
        assert by_sid["Organization"]["Principal"] == "*"
        org = by_sid["Organization"]["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
        assert org == ORGANIZATION
    expected = {"SourceAccounts"} if accounts else set()
    if "OrganizationId" in VARIANTS[variant]:
        expected.add("Organization")
    assert set(by_sid) == expected


def test_outputs_name_the_destination_for_source_accounts(central: Json) -> None:
    outputs = central["Outputs"]
    assert outputs["LogDestinationArn"]["Value"] == {"Fn::GetAtt": ["LogDestination", "Arn"]}
    assert outputs["LogDestinationArn"]["Condition"] == "KinesisAcrossAccounts"
    assert outputs["LogStreamArn"]["Condition"] == "UseKinesis"


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("", True), ("111111111111", True), ("*", False), ("11111111111", False), ("o-abc", False)],
)
def test_source_account_ids_are_checked_per_entry(central: Json, value: str, allowed: bool) -> None:
    # CloudFormation matches a CommaDelimitedList's AllowedPattern against each entry.
    pattern = central["Parameters"]["SourceAccountIds"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


# --------------------------------------------------------------------------
# templates/source-account.yaml
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_account() -> Json:
    return load_template(SOURCE_TEMPLATE)


def test_source_account_list_mode_compiles_to_one_filter_per_group(source_account: Json) -> None:
    groups = ("/aws/lambda/orders", "/ecs/payments#blue", "plain")
    bound: dict[str, str | tuple[str, ...]] = {
        "DestinationArn": DESTINATION,
        "LogGroupNames": groups,
    }
    result = check_template(expanded_template(source_account, bound), bound)
    assert result.problems == []
    assert result.transformed is not None
    filters = resources_of(result.transformed, "AWS::Logs::SubscriptionFilter")
    assert sorted(f["Properties"]["LogGroupName"] for f in filters.values()) == sorted(groups)
    for subscription in filters.values():
        assert subscription["Condition"] == "ListMode"
        assert subscription["Properties"]["DestinationArn"] == {"Ref": "DestinationArn"}
        assert subscription["Properties"]["FilterName"] == {
            "Fn::Sub": "${AWS::StackName}-logstream"
        }
        assert "RoleArn" not in subscription["Properties"]  # the destination has its own
    parameters = {"SelectionMode": "list", "LogGroupNames": groups}
    assert not _exists(result.transformed, "SourceAccountPolicy", parameters)


@pytest.mark.parametrize("excluded", [(), ("/aws/lambda/noisy", "/ecs/debug")])
def test_source_account_account_mode_compiles_to_one_account_policy(
    source_account: Json, excluded: tuple[str, ...]
) -> None:
    # cfn-lint checks the conditioned-out list-mode filter's properties too, so
    # LogGroupNames gets a valid placeholder here; the filter is not deployed.
    parameters: dict[str, Any] = {
        "DestinationArn": DESTINATION,
        "SelectionMode": "account",
        "LogGroupNames": ("/unused",),
        "ExcludedLogGroups": excluded or "",
    }
    result = check_template(expanded_template(source_account, parameters), parameters)
    assert result.problems == []
    template = result.transformed
    assert template is not None
    assert not _exists(template, "SourceSubscriptionunused", parameters)
    policy = template["Resources"]["SourceAccountPolicy"]
    assert _exists(template, "SourceAccountPolicy", parameters)
    properties = resolve(policy["Properties"], parameters, template)
    assert properties["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"
    assert properties["Scope"] == "ALL"
    assert json.loads(properties["PolicyDocument"]) == {
        "DestinationArn": DESTINATION,
        "FilterPattern": "",
        "Distribution": "Random",
    }
    if excluded:
        quoted = ",".join(f'"{name}"' for name in excluded)
        assert properties["SelectionCriteria"] == f"LogGroupName NOT IN [{quoted}]"
    else:
        assert "SelectionCriteria" not in properties


def test_source_account_rules(source_account: Json) -> None:
    (assertion,) = source_account["Rules"]["ListModeNeedsGroups"]["Assertions"]
    assert not evaluate(assertion["Assert"], {"LogGroupNames": ("",)}, source_account)
    assert evaluate(assertion["Assert"], {"LogGroupNames": ("/a",)}, source_account)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("/aws/lambda/noisy", True),
        ("/ecs/App#Two", True),
        ("/aws/*", False),
        ('x"]', False),
    ],
)
def test_source_account_names_are_exact_names(
    source_account: Json, value: str, allowed: bool
) -> None:
    for parameter in ("ExcludedLogGroups", "LogGroupNames"):
        pattern = source_account["Parameters"][parameter]["AllowedPattern"]
        assert (re.fullmatch(pattern, value) is not None) is allowed


#: IAM's default quota for a role's trust policy (characters, whitespace not counted).
TRUST_POLICY_LIMIT = 2048
#: The most SourceAccountIds the README promises (with an OrganizationId as well).
MOST_SOURCE_ACCOUNTS = 45


def test_the_trust_policy_fits_the_promised_number_of_accounts(central: Json) -> None:
    accounts = tuple(f"{n:012d}" for n in range(MOST_SOURCE_ACCOUNTS))
    parameters = {
        "Transport": "kinesis",
        "SourceAccountIds": accounts,
        "OrganizationId": ORGANIZATION,
    }
    resolver = Resolver(parameters, central)
    role = central["Resources"]["LogsToKinesisRole"]["Properties"]
    trust = json.dumps(resolver.resolve(role["AssumeRolePolicyDocument"]), separators=(",", ":"))
    per_account = len(',"arn:*:logs:*:000000000000:*"')
    room = (TRUST_POLICY_LIMIT - len(trust)) // per_account
    print(
        f"trust policy with {MOST_SOURCE_ACCOUNTS} accounts: {len(trust)} of "
        f"{TRUST_POLICY_LIMIT} characters, room for {room} more"
    )
    assert len(trust) < TRUST_POLICY_LIMIT
    assert len(",".join(accounts)) < 4096  # the parameter value limit

"""Configuration, read from the environment once and validated with clear errors.

Names and defaults follow the original logstream README (a contract we keep);
variables that only a serverless deployment needs are added beside them.
Every problem is collected, so one cold start reports all bad variables at
once, each error naming the variable and what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Final
from urllib.parse import urlsplit

from logstream.errors import InputError
from logstream.naming import IndexLayout

#: Index-name characters OpenSearch refuses (besides uppercase).
_ILLEGAL_INDEX_CHARS: Final = re.compile(r'[\\/*?"<>|,# :]')
#: The user-info of a URL (or of a bare ``user:password@host``), up to its last ``@``.
_USERINFO: Final = re.compile(r"([a-z][a-z0-9+.-]*://)?[^\s'\"]*@", re.IGNORECASE)


class SettingsError(InputError):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        # A URL's user:password@ never reaches a message, a log line or a traceback.
        self.problems = {name: redact_credentials(why) for name, why in problems.items()}
        lines = "; ".join(f"{name}: {why}" for name, why in sorted(self.problems.items()))
        super().__init__(f"invalid configuration: {lines}")


def redact_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@``."""
    return _USERINFO.sub(lambda match: f"{match.group(1) or ''}***@", text)


class AuthMode(StrEnum):
    """How requests to the cluster are authenticated."""

    BASIC = "basic"  # ES_USER / ES_PASS (or the secret named by ES_PASS_SECRET_ARN)
    SIGV4 = "sigv4"  # IAM, service "es" (Amazon OpenSearch Service domains)
    SIGV4_AOSS = "sigv4-aoss"  # IAM, service "aoss" (OpenSearch Serverless)
    NONE = "none"  # a cluster without security, such as the local test stack
    API_KEY = "apikey"  # ES_API_KEY sent as `Authorization: ApiKey ...` (Elasticsearch)


class SelectionMode(StrEnum):
    """Which log groups logstream ships (LOG_GROUP_SELECTION; README "Choosing which groups")."""

    LIST = "list"  # the exact names in LOG_GROUPS
    PREFIXES = "prefixes"  # every group whose name starts with one of LOG_GROUP_PREFIXES
    ACCOUNT = "account"  # an account-level filter policy; LOG_GROUP_PREFIXES narrows it


class Transport(StrEnum):
    """How subscription filters reach the decoder (TRANSPORT)."""

    LAMBDA = "lambda"  # the filter invokes the decoder directly
    KINESIS = "kinesis"  # a CloudWatch Logs destination backed by a Kinesis stream


class EngineName(StrEnum):
    """Which search engine ES_HOST runs (ES_ENGINE); Serverless is implied by sigv4-aoss."""

    OPENSEARCH = "opensearch"
    ELASTICSEARCH = "elasticsearch"


#: An Elasticsearch API key as its API returns it: ``encoded`` (base64) or ``id:api_key``.
_API_KEY: Final = re.compile(r"[A-Za-z0-9+/=_:-]+")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the functions are configured with. Build it with :meth:`from_env`."""

    es_host: str
    es_user: str
    es_pass: str
    es_pass_secret_arn: str | None
    auth_mode: AuthMode
    engine: EngineName
    es_api_key: str | None = field(repr=False)  # a credential: never in a traceback or log
    tls_verify: bool
    ca_certs: str | None
    aws_region: str
    index_prefix: str
    index_shards: int
    index_replicas: int
    log_groups: tuple[str, ...]
    batch_size: int
    batch_max_bytes: int
    max_in_flight: int
    gzip_level: int
    http_timeout_secs: int
    backoff_base_ms: int
    backoff_max_ms: int
    deadline_margin_ms: int
    mapping_total_fields_limit: int
    mapping_depth_limit: int
    state_table: str | None
    backfill_days: int
    backfill_max_days: int
    backfill_chunk_events: int
    backfill_lease_secs: int
    reconcile_interval_secs: int
    reconcile_settle_secs: int
    reconcile_insights: bool
    filter_pattern: str | None
    own_log_group_prefixes: tuple[str, ...] = ()
    # Fleet scale (issue 11): which groups, and where the subscriber points their filters.
    log_group_selection: SelectionMode = SelectionMode.LIST
    log_group_prefixes: tuple[str, ...] = ()
    excluded_log_groups: tuple[str, ...] = ()
    subscription_filter_name: str = "logstream"
    subscription_destination_arn: str | None = None
    subscription_role_arn: str | None = None
    transport: Transport = Transport.LAMBDA
    index_layout: IndexLayout = IndexLayout.GROUP_DAILY
    #: Days of daily indices kept, today included; 0 keeps them forever (logstream.retention).
    retention_days: int = 0

    @property
    def alias(self) -> str:
        """The alias that spans every log index: ``${INDEX_PREFIX}-all``."""
        return f"{self.index_prefix}-all"

    @property
    def quarantine_index(self) -> str:
        """Where refused documents are parked: ``${INDEX_PREFIX}-quarantine``."""
        return f"{self.index_prefix}-quarantine"

    @property
    def index_owner(self) -> str:
        """The ownership marker logstream's templates stamp on its indices (``_meta``).

        The index prefix: it is what a deployment owns in a cluster (templates,
        alias, quarantine); two deployments with one prefix share every index anyway.
        """
        return self.index_prefix

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate ``env``; raise :class:`SettingsError` naming every bad variable."""
        reader = _Reader(env)
        auth_raw = reader.text("ES_AUTH", AuthMode.BASIC.value).lower()
        try:
            auth_mode = AuthMode(auth_raw)
        except ValueError:
            reader.problems["ES_AUTH"] = (
                f"{auth_raw!r} is not one of {', '.join(m.value for m in AuthMode)}"
            )
            auth_mode = AuthMode.BASIC
        settings = cls(
            es_host=reader.url("ES_HOST", "http://localhost:9200"),
            es_user=reader.text("ES_USER", "elastic"),
            es_pass=reader.text("ES_PASS", "changeme"),
            es_pass_secret_arn=reader.optional("ES_PASS_SECRET_ARN"),
            auth_mode=auth_mode,
            engine=reader.choice("ES_ENGINE", EngineName.OPENSEARCH, EngineName),
            es_api_key=reader.optional("ES_API_KEY"),
            tls_verify=reader.boolean("ES_TLS_VERIFY", default=True),
            ca_certs=reader.optional("ES_CA_CERTS"),
            aws_region=reader.required("AWS_REGION"),
            index_prefix=reader.index_prefix("INDEX_PREFIX", "logs"),
            index_shards=reader.integer("INDEX_SHARDS", 1, low=1, high=64),
            index_replicas=reader.integer("INDEX_REPLICAS", 1, low=0, high=15),
            log_groups=reader.csv("LOG_GROUPS"),
            # Chosen by benchmarks/bench_transport.py --sweep: fewer, larger requests cost
            # less client CPU per event; 5,000 keeps a full delivery (10,000 events) at two
            # requests, one per MAX_IN_FLIGHT slot, and 5 MiB is "a few MB" per request.
            batch_size=reader.integer("BATCH_SIZE", 5000, low=1, high=100_000),
            batch_max_bytes=reader.integer(
                "BATCH_MAX_BYTES", 5 * 1024 * 1024, low=64 * 1024, high=100 * 1024 * 1024
            ),
            max_in_flight=reader.integer("MAX_IN_FLIGHT", 2, low=1, high=64),
            gzip_level=reader.integer("GZIP_LEVEL", 1, low=0, high=9),
            http_timeout_secs=reader.integer("HTTP_TIMEOUT_SECS", 30, low=1, high=900),
            backoff_base_ms=reader.integer("BACKOFF_BASE_MS", 200, low=1, high=60_000),
            backoff_max_ms=reader.integer("BACKOFF_MAX_MS", 10_000, low=1, high=600_000),
            deadline_margin_ms=reader.integer("DEADLINE_MARGIN_MS", 3_000, low=0, high=120_000),
            # Caps on app JSON per daily index; what exceeds them goes to `json_overflow`.
            mapping_total_fields_limit=reader.integer(
                "MAPPING_TOTAL_FIELDS_LIMIT", 1000, low=50, high=100_000
            ),
            mapping_depth_limit=reader.integer("MAPPING_DEPTH_LIMIT", 20, low=3, high=100),
            state_table=reader.optional("STATE_TABLE"),
            backfill_days=reader.integer("BACKFILL_DAYS", 30, low=0, high=3653),
            backfill_max_days=reader.integer("BACKFILL_MAX_DAYS", 400, low=1, high=3653),
            backfill_chunk_events=reader.integer(
                "BACKFILL_CHUNK_EVENTS", 50_000, low=1_000, high=10_000_000
            ),
            backfill_lease_secs=reader.integer("BACKFILL_LEASE_SECS", 960, low=5, high=86_400),
            reconcile_interval_secs=reader.integer(
                "RECONCILE_INTERVAL_SECS", 900, low=60, high=86_400
            ),
            # Only windows older than this are reconciled: events still in flight
            # (ingestion, Insights indexing, the decoder's async retries) are not gaps.
            reconcile_settle_secs=reader.integer("RECONCILE_SETTLE_SECS", 900, low=60, high=86_400),
            reconcile_insights=reader.boolean("RECONCILE_INSIGHTS", default=True),
            # The subscription filter pattern: reconciliation counts with the same one.
            filter_pattern=reader.optional("FILTER_PATTERN"),
            # logstream's own groups (logstream.own_groups): never shipped nor planned.
            own_log_group_prefixes=reader.csv("LOGSTREAM_OWN_LOG_GROUP_PREFIXES"),
            log_group_selection=reader.choice(
                "LOG_GROUP_SELECTION", SelectionMode.LIST, SelectionMode
            ),
            log_group_prefixes=reader.csv("LOG_GROUP_PREFIXES"),
            excluded_log_groups=reader.csv("EXCLUDED_LOG_GROUPS"),
            subscription_filter_name=reader.text("SUBSCRIPTION_FILTER_NAME", "logstream"),
            subscription_destination_arn=reader.optional("SUBSCRIPTION_DESTINATION_ARN"),
            subscription_role_arn=reader.optional("SUBSCRIPTION_ROLE_ARN"),
            transport=reader.choice("TRANSPORT", Transport.LAMBDA, Transport),
            # group-daily: an index per group and day; shared-daily: one per day (naming.py).
            index_layout=reader.choice("INDEX_LAYOUT", IndexLayout.GROUP_DAILY, IndexLayout),
            # Daily indices older than this many days are deleted (0: kept forever).
            retention_days=reader.integer("RETENTION_DAYS", 0, low=0, high=3650),
        )
        if settings.backoff_max_ms < settings.backoff_base_ms:
            reader.problems["BACKOFF_MAX_MS"] = (
                f"{settings.backoff_max_ms} is below BACKOFF_BASE_MS={settings.backoff_base_ms}"
            )
        reader.problems.update(_auth_problems(settings))
        reader.problems.update(_fleet_problems(settings))
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


def _auth_problems(settings: Settings) -> dict[str, str]:
    """ES_AUTH, ES_API_KEY and ES_ENGINE that contradict each other."""
    mode, key = settings.auth_mode, settings.es_api_key
    if mode is AuthMode.API_KEY and key is None:
        return {"ES_API_KEY": "is required when ES_AUTH=apikey"}
    if mode is not AuthMode.API_KEY and key is not None:
        return {"ES_API_KEY": f"is set, but ES_AUTH={mode}; set ES_AUTH=apikey to use it"}
    if key is not None and not _API_KEY.fullmatch(key):
        return {"ES_API_KEY": "must be the key's 'encoded' value or 'id:api_key'"}
    if settings.engine is EngineName.ELASTICSEARCH and mode in (
        AuthMode.SIGV4,
        AuthMode.SIGV4_AOSS,
    ):
        return {"ES_AUTH": f"{mode} is AWS's and means OpenSearch, not ES_ENGINE=elasticsearch"}
    return {}


#: A CloudWatch subscription filter name: 1-512 characters, no ``:`` or ``*``.
_FILTER_NAME: Final = re.compile(r"[^:*]{1,512}")


def _fleet_problems(settings: Settings) -> dict[str, str]:
    """The selection settings that cannot select anything, or name things CloudWatch refuses."""
    problems: dict[str, str] = {}
    if settings.log_group_selection is SelectionMode.PREFIXES and not settings.log_group_prefixes:
        problems["LOG_GROUP_PREFIXES"] = (
            "is required when LOG_GROUP_SELECTION=prefixes (e.g. /aws/lambda/,/ecs/)"
        )
    if any("*" in prefix for prefix in settings.log_group_prefixes):
        problems["LOG_GROUP_PREFIXES"] = "takes plain name prefixes, without '*'"
    if any("*" in name[:-1] or name == "*" for name in settings.excluded_log_groups):
        problems["EXCLUDED_LOG_GROUPS"] = (
            "takes exact names or prefixes ending in '*' (a lone '*' would exclude everything)"
        )
    if not _FILTER_NAME.fullmatch(settings.subscription_filter_name):
        problems["SUBSCRIPTION_FILTER_NAME"] = "must be 1-512 characters without ':' or '*'"
    for name, arn in (
        ("SUBSCRIPTION_DESTINATION_ARN", settings.subscription_destination_arn),
        ("SUBSCRIPTION_ROLE_ARN", settings.subscription_role_arn),
    ):
        if arn is not None and not arn.startswith("arn:"):
            problems[name] = f"{arn!r} is not an ARN (arn:aws:...)"
    return problems


@cache
def load_settings() -> Settings:
    """The process-wide settings, read from ``os.environ`` on first use."""
    import os  # noqa: PLC0415 - kept local so the module stays pure for tests

    return Settings.from_env(os.environ)


class _Reader:
    """Reads typed values out of an environment mapping, collecting problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: dict[str, str] = {}

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def optional(self, name: str) -> str | None:
        return self._raw(name)

    def required(self, name: str) -> str:
        value = self._raw(name)
        if value is None:
            self.problems[name] = "is required but not set"
            return ""
        return value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        return self._parse(name, default, lambda raw: _bounded_int(raw, low, high))

    def boolean(self, name: str, *, default: bool) -> bool:
        return self._parse(name, default, _boolean)

    def url(self, name: str, default: str) -> str:
        return self._parse(name, default, _http_url)

    def index_prefix(self, name: str, default: str) -> str:
        return self._parse(name, default, _index_prefix)

    def choice[E: StrEnum](self, name: str, default: E, kind: type[E]) -> E:
        def parse(raw: str) -> E:
            try:
                return kind(raw.lower())
            except ValueError:
                raise ValueError(f"{raw!r} is not one of {', '.join(kind)}") from None

        return self._parse(name, default, parse)

    def csv(self, name: str) -> tuple[str, ...]:
        raw = self._raw(name)
        if raw is None:
            return ()
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def _parse[T](self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            self.problems[name] = str(error)
            return default


def _bounded_int(raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ValueError(f"{value} is outside the allowed range {low}..{high}")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{raw!r} is not a boolean (use true or false)")


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in {"http", "https"} or not parts.hostname or not port_ok:
        raise ValueError(f"{raw!r} is not an http(s) URL such as https://search-x.es.amazonaws.com")
    return raw.rstrip("/")


def _index_prefix(raw: str) -> str:
    if raw != raw.lower():
        raise ValueError(f"{raw!r} must be lowercase (OpenSearch index names are)")
    if _ILLEGAL_INDEX_CHARS.search(raw):
        raise ValueError(f'{raw!r} contains a character not allowed in index names (\\/*?"<>|,# :)')
    if raw[0] in "-_+." or len(raw.encode()) > 100:
        raise ValueError(f"{raw!r} must not start with - _ + . and must be at most 100 bytes")
    return raw

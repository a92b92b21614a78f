"""Index names and document ids: the two keys every path must agree on.

Two layouts (``INDEX_LAYOUT``, :class:`IndexLayout`) place a document by its
group and the UTC day of its event:

- ``group-daily`` (the default, the original contract):
  ``${INDEX_PREFIX}-{group}-{YYYY.MM.DD}``, one index per group and day;
- ``shared-daily``: ``${INDEX_PREFIX}-{YYYY.MM.DD}``, every group in one index
  per day, told apart by the ``log_group`` keyword every document carries.

Group part of a ``group-daily`` index name:

1. The log group name is lowercased and every run of characters outside
   ``[a-z0-9]`` becomes one ``-``; leading and trailing ``-`` are trimmed.
   ``/aws/lambda/My_Fn`` -> ``aws-lambda-my-fn``.
2. If that slug spells the group exactly (the group was already lowercase
   letters and digits joined by single dashes), it is the group part as is.
3. Otherwise the mapping lost information (``/``, case, ``_``, ``#``...), so
   ``_`` and the first 10 hex digits of SHA-256 of the exact group name are
   appended: ``aws-lambda-my-fn_1a2b3c4d5e``. An exact slug never contains
   ``_``, so a lossless name can never equal a hashed one, and two different
   groups share an index only if their 40-bit hashes collide.
4. The slug is cut so the whole index name stays within 255 bytes; a cut slug
   always gets the hash.

The reconciler never trusts the index name alone: every document also carries
its exact ``log_group``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Final


class IndexLayout(StrEnum):
    """How documents are spread over daily indices (``INDEX_LAYOUT``)."""

    GROUP_DAILY = "group-daily"  # ${INDEX_PREFIX}-{group}-{YYYY.MM.DD}
    SHARED_DAILY = "shared-daily"  # ${INDEX_PREFIX}-{YYYY.MM.DD}, groups told apart by log_group


#: The schema scope every group shares in ``shared-daily`` (its indices hold one mapping
#: for all groups). No log group name can hold parentheses, so it is never a group's.
SHARED_SCOPE: Final = "(shared-daily)"

_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
_HASH_HEX_DIGITS: Final = 10
_MAX_INDEX_BYTES: Final = 255
_DAY_MS: Final = 86_400_000
_DATE_SUFFIX_LEN: Final = len("-YYYY.MM.DD")
_DAY: Final = r"\d{4}\.\d{2}\.\d{2}"
#: A group part as :func:`group_index_part` makes it: an exact slug, or a slug and a hash.
_GROUP_PART: Final = rf"[a-z0-9]+(?:-[a-z0-9]+)*(?:_[0-9a-f]{{{_HASH_HEX_DIGITS}}})?"


@lru_cache(maxsize=4096)
def group_index_part(log_group: str, *, max_bytes: int = 200) -> str:
    """The index-name part for ``log_group``; injective by construction (see module doc)."""
    slug = _NOT_SLUG.sub("-", log_group.lower()).strip("-")
    suffix_len = 1 + _HASH_HEX_DIGITS
    if slug == log_group and len(slug) <= max_bytes:
        return slug
    slug = slug[: max_bytes - suffix_len].rstrip("-") or "group"
    digest = hashlib.sha256(log_group.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{slug}_{digest[:_HASH_HEX_DIGITS]}"


def is_sanitized(log_group: str) -> bool:
    """True when the group name could not be used verbatim (so its index part is hashed)."""
    return "_" in group_index_part(log_group)


def index_prefix_for_group(prefix: str, log_group: str) -> str:
    """``${INDEX_PREFIX}-{group}-``: every daily index of the group starts with it."""
    budget = _MAX_INDEX_BYTES - len(prefix.encode()) - 1 - _DATE_SUFFIX_LEN
    return f"{prefix}-{group_index_part(log_group, max_bytes=budget)}-"


def index_pattern_for_group(prefix: str, log_group: str) -> str:
    """A wildcard that matches every daily index of one group, and no other group's."""
    return f"{index_prefix_for_group(prefix, log_group)}*"


#: A group part as :func:`group_index_part` makes it: an exact slug, or a cut slug,
#: ``_`` and 10 hex digits.
_GROUP_PART_PATTERN: Final = r"[a-z0-9]+(?:-[a-z0-9]+)*(?:_[0-9a-f]{10})?"
#: ``YYYY.MM.DD`` as :func:`day_suffix` writes it, captured as ``day``.
DAY_SUFFIX_PATTERN: Final = r"(?P<day>[0-9]{4}\.[0-9]{2}\.[0-9]{2})"


def daily_index_regex(
    prefix: str, layout: IndexLayout = IndexLayout.GROUP_DAILY
) -> re.Pattern[str]:
    """Matches (``fullmatch``) every name :func:`daily_index` makes for ``prefix``; ``day``
    is its date. Another prefix's names match too when they extend this one with a
    dash (``logs`` and ``logs-prod``): the name alone never proves whose an index is."""
    if layout is IndexLayout.SHARED_DAILY:
        return re.compile(f"{re.escape(prefix)}-{DAY_SUFFIX_PATTERN}")
    return re.compile(f"{re.escape(prefix)}-{_GROUP_PART_PATTERN}-{DAY_SUFFIX_PATTERN}")


def day_suffix(timestamp_ms: int) -> str:
    """``YYYY.MM.DD`` of the UTC day that holds ``timestamp_ms``."""
    return _day_suffix_of_day(timestamp_ms // _DAY_MS)


@lru_cache(maxsize=1024)
def _day_suffix_of_day(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=UTC).strftime("%Y.%m.%d")


def daily_index(
    prefix: str,
    log_group: str,
    timestamp_ms: int,
    layout: IndexLayout = IndexLayout.GROUP_DAILY,
) -> str:
    """The index a document of ``log_group`` at ``timestamp_ms`` belongs in."""
    return daily_index_head(prefix, log_group, layout) + day_suffix(timestamp_ms)


def daily_index_head(
    prefix: str, log_group: str, layout: IndexLayout = IndexLayout.GROUP_DAILY
) -> str:
    """What every daily index holding ``log_group``'s documents starts with; the day follows."""
    if layout is IndexLayout.SHARED_DAILY:
        return f"{prefix}-"
    return index_prefix_for_group(prefix, log_group)


def group_indices_pattern(
    prefix: str, log_group: str, layout: IndexLayout = IndexLayout.GROUP_DAILY
) -> str:
    """A wildcard over every index that may hold ``log_group``'s documents.

    A superset: in ``group-daily`` it also matches a group whose part extends
    this one's, in ``shared-daily`` every index of the prefix. Pick names with
    :func:`is_daily_index` and documents with a ``log_group`` term.
    """
    return daily_index_head(prefix, log_group, layout) + "*"


def deployment_pattern(prefix: str) -> str:
    """A wildcard over every daily index of the deployment (and more: filter the names)."""
    return f"{prefix}-*"


def is_daily_index(
    prefix: str,
    name: str,
    layout: IndexLayout = IndexLayout.GROUP_DAILY,
    log_group: str | None = None,
) -> bool:
    """True when ``name`` has the exact shape of one of the deployment's daily indices.

    With ``log_group``: one that holds that group's documents. The shape alone
    cannot tell a neighbouring deployment whose prefix extends this one
    (``logs`` vs ``logs-a``) in ``group-daily``; an ownership marker must.
    """
    if log_group is not None:
        head = daily_index_head(prefix, log_group, layout)
        return name.startswith(head) and re.fullmatch(_DAY, name[len(head) :]) is not None
    part = "" if layout is IndexLayout.SHARED_DAILY else f"{_GROUP_PART}-"
    return re.fullmatch(rf"{re.escape(prefix)}-{part}{_DAY}", name) is not None


def index_day(name: str) -> str:
    """The ``YYYY.MM.DD`` a daily index name ends in."""
    return name[-len("YYYY.MM.DD") :]


def schema_scope(log_group: str, layout: IndexLayout = IndexLayout.GROUP_DAILY) -> str:
    """Whose indices share one mapping: the group's own, or every group's (:data:`SHARED_SCOPE`).

    Drift decisions and drift templates are kept per scope, so in ``shared-daily``
    two groups that disagree on a field's type are decided like one group that drifts.
    """
    return SHARED_SCOPE if layout is IndexLayout.SHARED_DAILY else log_group


def document_id(event_id: str) -> str:
    """The ``_id`` of a CloudWatch event: the join key of live, backfill and reconcile.

    Subscription payloads and FilterLogEvents both expose the same event id, so
    it is used verbatim. This function is the one place to change if a real
    account ever shows otherwise: live delivery, backfill, reconciliation and
    healing all take the ``_id`` from here.
    """
    return event_id

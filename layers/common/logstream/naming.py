"""Index names and document ids: the two keys every path must agree on.

Index naming rule (``${INDEX_PREFIX}-{group}-{YYYY.MM.DD}``, UTC day of the event):

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
from functools import lru_cache
from typing import Final

_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
_HASH_HEX_DIGITS: Final = 10
_MAX_INDEX_BYTES: Final = 255
_DAY_MS: Final = 86_400_000
_DATE_SUFFIX_LEN: Final = len("-YYYY.MM.DD")


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


def daily_index_regex(prefix: str) -> re.Pattern[str]:
    """Matches (``fullmatch``) every name :func:`daily_index` makes for ``prefix``; ``day``
    is its date. Another prefix's names match too when they extend this one with a
    dash (``logs`` and ``logs-prod``): the name alone never proves whose an index is."""
    return re.compile(f"{re.escape(prefix)}-{_GROUP_PART_PATTERN}-{DAY_SUFFIX_PATTERN}")


def day_suffix(timestamp_ms: int) -> str:
    """``YYYY.MM.DD`` of the UTC day that holds ``timestamp_ms``."""
    return _day_suffix_of_day(timestamp_ms // _DAY_MS)


@lru_cache(maxsize=1024)
def _day_suffix_of_day(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=UTC).strftime("%Y.%m.%d")


def daily_index(prefix: str, log_group: str, timestamp_ms: int) -> str:
    """The index a document of ``log_group`` at ``timestamp_ms`` belongs in."""
    return index_prefix_for_group(prefix, log_group) + day_suffix(timestamp_ms)


def document_id(event_id: str) -> str:
    """The ``_id`` of a CloudWatch event: the join key of live, backfill and reconcile.

    Subscription payloads and FilterLogEvents both expose the same event id, so
    it is used verbatim. This function is the one place to change if a real
    account ever shows otherwise: live delivery, backfill, reconciliation and
    healing all take the ``_id`` from here.
    """
    return event_id

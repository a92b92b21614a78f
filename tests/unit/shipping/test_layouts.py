"""Both index layouts on the shipping path: where a document goes, and what it carries."""

from __future__ import annotations

import orjson

from logstream.naming import IndexLayout, daily_index
from logstream.shipping.documents import EventOrigin, build_documents

_DAY = 86_400_000
_T0 = 1764000000123  # 2025-11-24T16:00:00.123Z


def _origin(group: str) -> EventOrigin:
    return EventOrigin(log_group=group, log_stream="s", owner="123456789012", region="eu-west-1")


def _events(n: int, start: int) -> list[dict[str, object]]:
    return [{"id": f"{start + i}", "timestamp": start + i * _DAY, "message": "m"} for i in range(n)]


def test_shared_daily_sends_every_group_of_a_day_to_one_index_with_its_group() -> None:
    by_index: dict[str, set[str]] = {}
    for group in ("/aws/lambda/Orders", "/ecs/web", "payments"):
        built = build_documents(_events(3, _T0), _origin(group), "logs", IndexLayout.SHARED_DAILY)
        for document in built.documents:
            source = orjson.loads(document.source)
            assert source["log_group"] == group == document.log_group
            expected = daily_index("logs", group, document.timestamp, IndexLayout.SHARED_DAILY)
            assert document.index == expected
            assert orjson.loads(document.line.split(b"\n")[0])["create"]["_index"] == expected
            by_index.setdefault(document.index, set()).add(group)
    assert sorted(by_index) == ["logs-2025.11.24", "logs-2025.11.25", "logs-2025.11.26"]
    assert all(len(groups) == 3 for groups in by_index.values())


def test_group_daily_keeps_an_index_per_group_and_day() -> None:
    indices = set()
    for group in ("/aws/lambda/Orders", "/ecs/web"):
        built = build_documents(_events(2, _T0), _origin(group), "logs")
        indices |= {d.index for d in built.documents}
        assert all(d.index == daily_index("logs", group, d.timestamp) for d in built.documents)
    assert len(indices) == 4

"""Windows: epoch-aligned, half-open."""

from __future__ import annotations

import pytest

from logstream.reconcile.window import Window
from tests.unit.reconcile.fakes import T0


def test_window_split_is_epoch_aligned_and_half_open() -> None:
    window = Window(T0 + 1_000, T0 + 25_000)
    parts = window.split(10_000)
    assert parts == [
        Window(T0 + 1_000, T0 + 10_000),
        Window(T0 + 10_000, T0 + 20_000),
        Window(T0 + 20_000, T0 + 25_000),
    ]
    assert window.contains(T0 + 1_000) and not window.contains(T0 + 25_000)
    with pytest.raises(ValueError, match="empty"):
        Window(5, 5)

"""The context-manager shape every local server of the stack shares."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class LocalService:
    """``with Service() as s:`` starts it and always stops it; subclasses give both."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

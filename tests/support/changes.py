"""An ``on_change`` callback that records each new value, for a test to wait on."""

from __future__ import annotations

import threading
from typing import Any


class Changes:
    """Collects the values ``on_change`` is called with; ``wait_for`` waits for a condition."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, old: Any, new: Any) -> None:
        with self._cond:
            self.values.append(new)
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.values), timeout)

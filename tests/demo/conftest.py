"""The ``start_demo`` fixture: demo processes that are always stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from demo_process import TIMEOUT, Demo


@pytest.fixture
def start_demo() -> Iterator[type[Demo]]:
    """Start demos with ``start_demo(args, env)``; any still running are stopped afterwards."""
    started: list[Demo] = []

    class Tracked(Demo):
        def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
            super().__init__(args, env)
            started.append(self)

    yield Tracked
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait(TIMEOUT)

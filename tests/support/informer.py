"""A recording informer handler, and what the informer tests compare it with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubeapi.server import KubeAPIServer
from kubereload.backoff import Backoff
from kubereload.kube.informer import Informer, Key

# Informer options that make a test quick: stalls seen within a second, retries within 0.1 s.
FAST: dict[str, Any] = {"stall_timeout": 1.0, "backoff": Backoff(0.01, 0.1)}


def value_of(obj: dict[str, Any]) -> str:
    return str(obj["data"]["v"])


class Recorder:
    """Records every handler call and wakes waiters, so tests wait on events, not sleeps.

    It replays the calls as a state machine: an add must be for a key it does not have, an
    update's and a delete's ``old`` must be the value it was last given. A call that breaks
    this (a duplicate, a skipped step) is kept in ``violations``.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Key, str | None, str | None]] = []
        self.view: dict[Key, str] = {}
        self.violations: list[str] = []
        self.changed = asyncio.Event()

    def _check(self, ok: bool, message: str) -> None:
        if not ok:
            self.violations.append(message)

    def on_add(self, key: Key, obj: str) -> None:
        self.calls.append(("add", key, None, obj))
        self._check(key not in self.view, f"add of {key} which it already has")
        self.view[key] = obj
        self.changed.set()

    def on_update(self, key: Key, old: str, new: str) -> None:
        self.calls.append(("update", key, old, new))
        self._check(self.view.get(key) == old, f"update of {key}: old {old} never delivered")
        self._check(old != new, f"update of {key} to the same value {new}")
        self.view[key] = new
        self.changed.set()

    def on_delete(self, key: Key, old: str) -> None:
        self.calls.append(("delete", key, old, None))
        self._check(self.view.pop(key, None) == old, f"delete of {key}: {old} never delivered")
        self.changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def until_connected(informer: Informer[Any], timeout: float = 10.0) -> None:
    """The watch request is open (the server has registered it), after ``synced``."""
    async with asyncio.timeout(timeout):
        while not informer.state.connected:
            await asyncio.sleep(0.005)


def truth(api: KubeAPIServer, namespace: str | None = "default") -> dict[Key, str]:
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"]): value_of(o)
        for o in api.list("v1", "ConfigMap", namespace)
    }

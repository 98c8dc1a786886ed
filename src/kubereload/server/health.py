"""Named health checks behind ``/healthz`` (liveness) and ``/readyz`` (readiness).

Components own their checks: each one either reports a state (``set``) or is asked on demand (a
probe callable). A check that fails makes its endpoint answer 503 with the reason, so
``kubectl describe pod`` shows what is wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

Probe = Callable[[], str | None]  # None when healthy, else the reason


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    reason: str


class HealthRegistry:
    """Liveness and readiness checks, by name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probes: dict[str, dict[str, Probe]] = {"live": {}, "ready": {}}
        self._states: dict[str, dict[str, str | None]] = {"live": {}, "ready": {}}

    def add_probe(self, kind: str, name: str, probe: Probe) -> None:
        """Register a callable asked at each request (kind is "live" or "ready").

        It replaces a state set under the same name: a command declares a check that does not
        exist yet (``set("ready", "informers", "not started")``) before it serves probes, so
        nothing is ready in the window before the real check is registered.
        """
        with self._lock:
            self._probes[kind][name] = probe
            self._states[kind].pop(name, None)

    def set(self, kind: str, name: str, reason: str | None) -> None:
        """Report a check's state: ``None`` when healthy, else why not."""
        with self._lock:
            self._states[kind][name] = reason

    def check(self, kind: str) -> list[CheckResult]:
        with self._lock:
            probes = dict(self._probes[kind])
            states = dict(self._states[kind])
        results = []
        for name, probe in probes.items():
            try:
                reason = probe()
            except Exception as exc:  # a broken probe is a failed check, not a crash
                reason = f"probe raised {type(exc).__name__}"
            results.append(CheckResult(name, reason is None, reason or "ok"))
        for name, state in states.items():
            results.append(CheckResult(name, state is None, state or "ok"))
        return sorted(results, key=lambda r: r.name)

    def healthy(self, kind: str) -> bool:
        return all(r.ok for r in self.check(kind))

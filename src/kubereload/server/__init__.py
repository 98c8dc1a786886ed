"""Health and metrics: registries any command fills, and the HTTP endpoint that serves them.

The endpoint (``StatusServer``, ``ServerLimits``, ``parse_listen``) is loaded on first use
(PEP 562), which a sidecar without ``--listen`` never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubereload.server.health import HealthRegistry
from kubereload.server.metrics import Counter, Gauge, Histogram, Registry
from kubereload.server.telemetry import Telemetry

if TYPE_CHECKING:
    from kubereload.server.http import ServerLimits, StatusServer, parse_listen


def __getattr__(name: str) -> Any:
    if name in ("ServerLimits", "StatusServer", "parse_listen"):
        from kubereload.server import http  # noqa: PLC0415 - only with --listen

        return getattr(http, name)
    raise AttributeError(f"module 'kubereload.server' has no attribute {name!r}")


__all__ = [
    "Counter",
    "Gauge",
    "HealthRegistry",
    "Histogram",
    "Registry",
    "ServerLimits",
    "StatusServer",
    "Telemetry",
    "parse_listen",
]

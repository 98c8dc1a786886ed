"""Health and metrics: registries any command fills, and the HTTP endpoint that serves them."""

from kubereload.server.health import HealthRegistry
from kubereload.server.http import StatusServer, parse_listen
from kubereload.server.metrics import Counter, Gauge, Histogram, Registry
from kubereload.server.telemetry import Telemetry

__all__ = [
    "Counter",
    "Gauge",
    "HealthRegistry",
    "Histogram",
    "Registry",
    "StatusServer",
    "Telemetry",
    "parse_listen",
]

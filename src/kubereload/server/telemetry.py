"""The metrics and health checks of a reloading command (``watch``, ``run``, ``sync``).

It is the pipeline's :class:`~kubereload.actions.Observer`: what the actions report becomes
Prometheus metrics and readiness. Labels carry paths and credential-free URL targets only.
"""

from __future__ import annotations

from kubereload import __version__
from kubereload.actions import ReloadResult
from kubereload.server.compat import CompatMetrics
from kubereload.server.health import HealthRegistry
from kubereload.server.metrics import Registry


class Telemetry:
    """Metrics registry + health registry, with the metrics every reloading command shares."""

    def __init__(self, *, unready_on_failure: bool = False) -> None:
        self.registry = Registry()
        self.health = HealthRegistry()
        self.unready_on_failure = unready_on_failure
        r = self.registry
        r.gauge("build_info", "Always 1; the version is a label.", ["version"]).set(
            1, version=__version__
        )
        self.reloads = r.counter("reloads_total", "Reloads by result.", ["result"])
        self.reload_seconds = r.histogram(
            "reload_duration_seconds", "Time from start of validation to last action done."
        )
        self.last_time = r.gauge(
            "last_reload_timestamp_seconds", "Unix time of the last reload attempt."
        )
        self.last_success = r.gauge(
            "last_reload_success", "1 if the last reload attempt succeeded, else 0."
        )
        self.validation_failures = r.counter(
            "validation_failures_total", "Changes refused because --validate failed."
        )
        self.webhook_seconds = r.histogram(
            "webhook_duration_seconds", "Duration of each webhook attempt.", ["target"]
        )
        self.webhook_errors = r.counter(
            "webhook_errors_total",
            "Failed webhook attempts by reason (timeout, connection, tls, status).",
            ["target", "reason"],
        )
        self.watch_events = r.counter(
            "watch_events_total", "Content changes seen, per source.", ["source"]
        )
        self.watcher_errors = r.counter(
            "watcher_errors_total", "Errors reading a source, per source.", ["source"]
        )
        for result in ("success", "failure", "invalid"):
            self.reloads.inc(0, result=result)
        self.compat = CompatMetrics(r)  # configmap-reload's and prometheus-config-reloader's

    # -- Observer -----------------------------------------------------------------------------

    def reload_started(self, sources: tuple[str, ...]) -> None:
        return None

    def reload_finished(self, result: ReloadResult) -> None:
        if result.ok:
            self.reloads.inc(result="success")
        elif result.stage == "validate":
            self.reloads.inc(result="invalid")
            self.validation_failures.inc()
        else:
            self.reloads.inc(result="failure")
        self.reload_seconds.observe(result.seconds)
        self.last_time.set(result.finished_at)
        self.last_success.set(1 if result.ok else 0)
        self.compat.reload_finished(result)
        if self.unready_on_failure:
            reason = None if result.ok else f"the last reload failed at stage {result.stage}"
            self.health.set("ready", "last-reload", reason)

    def webhook_attempt(
        self, target: str, seconds: float, error: str | None, status: int | None = None
    ) -> None:
        self.webhook_seconds.observe(seconds, target=target)
        if error is not None:
            self.webhook_errors.inc(target=target, reason=error)
        self.compat.webhook_attempt(target, seconds, error, status)

    # -- sources ------------------------------------------------------------------------------

    def watch_event(self, source: str) -> None:
        self.watch_events.inc(source=source)
        self.compat.watch_event()

    def watcher_error(self, source: str) -> None:
        self.watcher_errors.inc(source=source)
        self.compat.watcher_error()

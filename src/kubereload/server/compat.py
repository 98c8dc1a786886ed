"""The metrics of the sidecars ``watch``, ``run`` and ``sync`` replace, under their own names.

So that a switch from jimmidyson/configmap-reload or prometheus-config-reloader (whose metrics
come from thanos' ``pkg/reloader``) keeps dashboards and alerts working. Each keeps its tool's
meaning, counted from the same events as kubereload's own ``kubereload_*`` metrics:

- configmap-reload, per webhook call attempt; its ``webhook`` label is kubereload's credential-free
  target (scheme, host, port, path), where configmap-reload puts the whole URL;
- prometheus-config-reloader, per reload: ``reloader_*``. The controller's stakater Reloader names
  are ``reloader_reload_executed_total`` and ``reloader_action_total``: no name is shared, and a
  process exports one family or the other, never both.
"""

from __future__ import annotations

from kubereload.actions import ReloadResult
from kubereload.server.metrics import Registry

CONFIGMAP_RELOAD = "configmap_reload_"
CONFIG_RELOADER = "reloader_"


class CompatMetrics:
    """configmap-reload's and prometheus-config-reloader's metrics in one registry."""

    def __init__(self, registry: Registry) -> None:
        r, cmr, pcr = registry, CONFIGMAP_RELOAD, CONFIG_RELOADER
        self.requests = r.counter(
            "requests_total",
            "Webhook answers by status code (configmap-reload's metric).",
            ["webhook", "status_code"],
            prefix=cmr,
        )
        self.request_errors = r.counter(
            "request_errors_total",
            "Failed webhook attempts by reason: client_request_do (no answer) or client_response "
            "(unexpected status) (configmap-reload's metric).",
            ["webhook", "reason"],
            prefix=cmr,
        )
        self.success_reloads = r.counter(
            "success_reloads_total",
            "Successful webhook calls (configmap-reload's metric).",
            ["webhook"],
            prefix=cmr,
        )
        self.last_reload_error = r.gauge(
            "last_reload_error",
            "1 if the last webhook attempt failed, 0 if it succeeded (configmap-reload's metric).",
            ["webhook"],
            prefix=cmr,
        )
        self.last_request_seconds = r.gauge(
            "last_request_duration_seconds",
            "Duration of the last successful webhook call (configmap-reload's metric).",
            ["webhook"],
            prefix=cmr,
        )
        self.cmr_watcher_errors = r.counter(
            "watcher_errors_total",
            "Errors reading a watched source (configmap-reload's metric).",
            prefix=cmr,
        )
        self.reloads = r.counter(
            "reloads_total",
            "Reloads attempted: changes that passed validation (prometheus-config-reloader's).",
            prefix=pcr,
        )
        self.reloads_failed = r.counter(
            "reloads_failed_total",
            "Reloads attempted that failed (prometheus-config-reloader's metric).",
            prefix=pcr,
        )
        self.last_reload_successful = r.gauge(
            "last_reload_successful",
            "1 if the last reload attempted succeeded, else 0 (prometheus-config-reloader's).",
            prefix=pcr,
        )
        self.last_success_time = r.gauge(
            "last_reload_success_timestamp_seconds",
            "Unix time of the last successful reload (prometheus-config-reloader's metric).",
            prefix=pcr,
        )
        self.applies = r.counter(
            "config_apply_operations_total",
            "Changes handled (prometheus-config-reloader's metric).",
            prefix=pcr,
        )
        self.applies_failed = r.counter(
            "config_apply_operations_failed_total",
            "Changes not applied because --validate refused them "
            "(prometheus-config-reloader's metric).",
            prefix=pcr,
        )
        self.watches = r.gauge(
            "watches", "Sources watched (prometheus-config-reloader's metric).", prefix=pcr
        )
        self.watch_events = r.counter(
            "watch_events_total",
            "Content changes seen on the sources (prometheus-config-reloader's metric).",
            prefix=pcr,
        )
        self.watch_errors = r.counter(
            "watch_errors_total",
            "Errors reading a source (prometheus-config-reloader's metric).",
            prefix=pcr,
        )

    def reload_finished(self, result: ReloadResult) -> None:
        self.applies.inc()
        if result.stage == "validate" and not result.ok:
            self.applies_failed.inc()
            return  # refused before any reload was attempted
        self.reloads.inc()
        self.last_reload_successful.set(1 if result.ok else 0)
        if result.ok:
            self.last_success_time.set(result.finished_at)
        else:
            self.reloads_failed.inc()

    def webhook_attempt(
        self, target: str, seconds: float, error: str | None, status: int | None
    ) -> None:
        if status is not None:
            self.requests.inc(webhook=target, status_code=str(status))
        if error is None:
            self.success_reloads.inc(webhook=target)
            self.last_request_seconds.set(seconds, webhook=target)
            self.last_reload_error.set(0, webhook=target)
            return
        reason = "client_response" if status is not None else "client_request_do"
        self.request_errors.inc(webhook=target, reason=reason)
        self.last_reload_error.set(1, webhook=target)

    def watch_event(self) -> None:
        self.watch_events.inc()

    def watcher_error(self) -> None:
        self.cmr_watcher_errors.inc()
        self.watch_errors.inc()

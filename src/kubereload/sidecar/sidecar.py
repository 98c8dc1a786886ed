"""A running sidecar assembled from its options: watched paths, the reload pipeline with its
actions, metrics and health, and the status server.

``kubereload watch`` is this; ``run`` adds the child's reload as a last action, ``sync`` feeds
the pipeline from the API instead of watched paths.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubereload.actions import Action, Command, ReloadPipeline, Validate, build_actions
from kubereload.server import Telemetry
from kubereload.sidecar.options import ReloadOptions, SidecarOptions
from kubereload.sidecar.watched import WatchedPaths

if TYPE_CHECKING:
    from kubereload.server.http import StatusServer

log = logging.getLogger(__name__)


def build_pipeline(
    options: ReloadOptions,
    telemetry: Telemetry,
    sources: Sequence[str],
    extra_actions: Sequence[Action] = (),
) -> ReloadPipeline:
    """The pipeline ``options`` describe, reporting to ``telemetry``; ValueError if an action
    cannot work (a bad webhook URL, ...)."""
    validate = None
    if options.validate:
        validate = Validate(
            Command(
                options.validate, shell=options.validate_shell, timeout=options.validate_timeout
            )
        )
    actions = [*build_actions(options.actions, telemetry), *extra_actions]
    pipeline = ReloadPipeline(
        actions,
        validate=validate,
        observer=telemetry,
        sources=sources,
        coalesce=options.coalesce,
        jitter=options.jitter,
    )
    telemetry.health.add_probe("live", "reloader", pipeline.problem)
    return pipeline


class Sidecar:
    """Built (and checked) from ``options``; :meth:`start` begins watching, :meth:`close` stops.

    ``extra_actions`` run after the configured ones (``run`` signals or restarts its child).
    Raises ValueError when the options cannot work.
    """

    def __init__(self, options: SidecarOptions, *, extra_actions: Sequence[Action] = ()) -> None:
        self.options = options
        self.telemetry = Telemetry(unready_on_failure=options.unready_on_failure)
        self.names = [str(path) for path in options.paths]
        self.pipeline = build_pipeline(options.reload, self.telemetry, self.names, extra_actions)
        self.server: StatusServer | None = None
        self.telemetry.compat.watches.set(len(options.paths))
        self._watched = WatchedPaths(options.paths, self.pipeline, self.telemetry)

    @property
    def actions(self) -> list[Action]:
        return self.pipeline.actions

    def serve_status(self) -> StatusServer | None:
        """Start the status server now if ``listen`` was given (OSError, ValueError if not
        possible); :meth:`start` does it too."""
        if self.server is None and self.options.listen:
            from kubereload.server.http import StatusServer, parse_listen  # noqa: PLC0415 - costly

            server = StatusServer(
                parse_listen(self.options.listen),
                self.telemetry.registry,
                self.telemetry.health,
                metrics_path=self.options.metrics_path,
            )
            server.start()
            self.server = server
            log.info(
                "serving /healthz, /readyz, %s on %s:%d",
                server.metrics_path,
                server.server_address[0],
                server.port,
            )
        return self.server

    def start(self) -> None:
        self.serve_status()
        self.pipeline.start()
        self._watched.start()
        if self.options.reload.initial_reload:
            self.pipeline.submit(*self.names)

    def close(self, timeout: float = 10.0) -> None:
        self._watched.close()
        self.pipeline.close(timeout)
        if self.server is not None:
            self.server.close()

    def __enter__(self) -> Sidecar:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

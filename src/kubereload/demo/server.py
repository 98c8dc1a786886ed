"""The demo web service: ``GET /`` answers with ``message`` from a hot-reloaded ``config.yaml``.

It is an ordinary user of the library: one ``kubereload.watch`` on the file (or
``kubereload.watch_configmap`` on the ConfigMap, straight from the API), one ``on_change``
callback. An update that does not parse, or has no usable ``message``, is rejected by the library
(which logs why) and the last good message goes on being served.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubereload
from kubereload.config import Config, ConfigError
from kubereload.demo.volume import INITIAL_CONFIG

log = logging.getLogger(__name__)

_MESSAGE_TYPES = (str, int, float, bool)


def validate(data: Any) -> Mapping[str, Any]:
    """The demo's schema: a mapping with a ``message`` that can be printed as one line of text.

    It raises ConfigError, whose words kubereload shows (any other exception's text it hides),
    with the field's path, so the error names the line and column of the offending value.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("must be a mapping with a 'message' key", kind="validation")
    if "message" not in data:
        raise ConfigError("required, but missing", kind="validation", path=("message",))
    if not isinstance(data["message"], _MESSAGE_TYPES):
        kind = type(data["message"]).__name__
        raise ConfigError(f"must be text, not a {kind}", kind="validation", path=("message",))
    return data


def message_of(config: Mapping[str, Any]) -> str:
    return str(config["message"])


def watch_dir(config_dir: Path) -> Config[Mapping[str, Any]]:
    """``config.yaml`` in a mounted ConfigMap volume (or any directory); a rejected one starts
    on the demo's default message."""
    return kubereload.watch(config_dir / "config.yaml", model=validate, default=INITIAL_CONFIG)


def watch_api(
    name: str, *, namespace: str | None = None, kubeconfig: Path | None = None
) -> Config[Mapping[str, Any]]:
    """Key ``config.yaml`` of the ConfigMap ``name``, read straight from the API server."""
    return kubereload.watch_configmap(
        name, key="config.yaml", model=validate, namespace=namespace, kubeconfig=kubeconfig
    )


class DemoServer:
    """Serves ``message`` from ``config_dir/config.yaml`` (or a given ``Config``) over HTTP
    until ``close()``.

    It starts whatever the volume holds: if config.yaml is rejected, the demo's default message
    is served (``startup_error`` says why) until a good version arrives.
    """

    def __init__(
        self, config_dir: Path | None, host: str, port: int, *, config: Config[Any] | None = None
    ) -> None:
        if config is None:
            assert config_dir is not None
            config = watch_dir(config_dir)
        self.config: Config[Mapping[str, Any]] = config
        self.startup_error: ConfigError | None = self.config.error
        # (message, version) swapped as one reference, so a response never mixes two versions.
        self._current = (message_of(self.config.get()), self.config.version or "")
        self.config.on_change(self._changed)
        try:
            self._http = ThreadingHTTPServer((host, port), self._handler())
        except BaseException:
            self.config.close()
            raise
        self._http.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def message(self) -> str:
        return self._current[0]

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def shutdown(self) -> None:
        """Make ``serve_forever`` return; call it from another thread (it waits for that)."""
        self._http.shutdown()

    def close(self) -> None:
        """Stop listening and stop watching."""
        self._http.server_close()
        self.config.close()

    def _changed(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        version = self.config.version or ""
        self._current = (message_of(new), version)
        keys = ", ".join(sorted(kubereload.changed_keys(old, new))) or "nothing"
        log.info(
            "config updated to version %s (changed: %s); now serving %r",
            version,
            keys,
            message_of(new),
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "kubereload-demo"

            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def _answer(self, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                message, version = server._current
                if path == "/":
                    self._send(200, f"{message}\n", body, version)
                elif path == "/healthz":
                    # Unhealthy only while updates cannot arrive (an API source disconnected);
                    # a rejected edit is logged, and the last good message is served.
                    problem = server.config.health()
                    if problem is None:
                        self._send(200, "ok\n", body, version)
                    else:
                        self._send(503, f"{problem}\n", body, version)
                else:
                    self._send(404, "not found: try / or /healthz\n", body, version)

            def _send(self, status: int, text: str, body: bool, version: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Config-Version", version)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: probes hit /healthz every few seconds; the log is for config changes."""

        return Handler

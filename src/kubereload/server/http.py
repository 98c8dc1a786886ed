"""The HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` on ``--listen``.

A stdlib threading server: three tiny read-only pages do not need a framework, and a scrape
never waits behind a slow reload.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubereload.server.health import HealthRegistry
from kubereload.server.metrics import Registry

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces) or ``[IPv6]:PORT``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {value!r} is not HOST:PORT (e.g. :9090, 127.0.0.1:9090)")
    host = host.strip("[]")
    return (host or "0.0.0.0", int(port))  # noqa: S104 (a sidecar serves the pod network)


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.server.metrics.render(), METRICS_CONTENT_TYPE)
        elif path in ("/healthz", "/livez"):
            self._health("live")
        elif path == "/readyz":
            self._health("ready")
        else:
            self._send(404, "not found: try /healthz, /readyz or /metrics\n")

    def _health(self, kind: str) -> None:
        results = self.server.health.check(kind)
        ok = all(r.ok for r in results)
        lines = [f"[{'+' if r.ok else '-'}] {r.name}: {r.reason}" for r in results]
        lines.append("ok" if ok else f"{'healthz' if kind == 'live' else 'readyz'} check failed")
        self._send(200 if ok else 503, "\n".join(lines) + "\n")

    def _send(self, code: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)


class StatusServer(ThreadingHTTPServer):
    """Serves health and metrics from a background thread until ``close()``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: Registry, health: HealthRegistry):
        self.metrics = metrics
        self.health = health
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, name="kubereload-http", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

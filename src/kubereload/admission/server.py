"""The validating webhook's HTTPS endpoint: ``POST /validate`` with an AdmissionReview.

A stdlib threading server, like the status server: one thread per connection (the API server
keeps a few alive), bounded by ``max_connections``; each read waits at most ``read_timeout``;
a body over ``max_body`` is refused before it is read. The TLS handshake happens on the
connection's own thread, with the certificate current at accept time.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubereload.admission.engine import Engine
from kubereload.admission.review import Answer, Outcome, answer
from kubereload.admission.tls import CertificateFiles
from kubereload.server import Registry

log = logging.getLogger(__name__)

PATH = "/validate"
MAX_NAMESPACE_LABELS = 500
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Limits:
    max_body: int = 8 * 1024 * 1024
    """An UPDATE carries the object and the old one; each is at most ~1.5 MiB in etcd, and a
    Secret's base64 adds a third."""
    max_connections: int = 64
    read_timeout: float = 10.0


class AdmissionMetrics:
    """``admission_reviews_total`` by namespace and result, ``admission_checks_total`` by
    namespace, rule and result; latency; certificate state. Labels never carry values."""

    def __init__(self, registry: Registry) -> None:
        self.reviews = registry.counter(
            "admission_reviews_total",
            "AdmissionReviews answered, by namespace and result (allowed, denied, errored).",
            ["namespace", "result"],
        )
        self.checks = registry.counter(
            "admission_checks_total",
            "Checks of one key by one rule, by namespace, rule and result (passed, failed).",
            ["namespace", "rule", "result"],
        )
        self.seconds = registry.histogram(
            "admission_review_duration_seconds",
            "Time from the request's last byte read to its answer ready to send.",
            buckets=LATENCY_BUCKETS,
        )
        self.refused = registry.counter(
            "admission_connections_refused_total",
            "Connections closed at once because max connections were open.",
        )
        for result in ("allowed", "denied", "errored"):
            self.reviews.inc(0, namespace="", result=result)
        self._namespaces: set[str] = set()
        self._lock = threading.Lock()

    def namespace_label(self, namespace: str) -> str:
        """The namespace as a label, bounded: unknown shapes and overflow become ``other``."""
        if not _NAMESPACE.fullmatch(namespace):
            return "other" if namespace else ""
        with self._lock:
            if namespace in self._namespaces:
                return namespace
            if len(self._namespaces) >= MAX_NAMESPACE_LABELS:
                return "other"
            self._namespaces.add(namespace)
            return namespace

    def record(self, outcome: Outcome, seconds: float) -> None:
        namespace = self.namespace_label(outcome.namespace)
        self.reviews.inc(namespace=namespace, result=outcome.result)
        self.seconds.observe(seconds)
        if outcome.verdict is not None:
            for check in outcome.verdict.checks:
                result = "passed" if check.ok else "failed"
                self.checks.inc(namespace=namespace, rule=check.rule, result=result)


class _Handler(BaseHTTPRequestHandler):
    server: AdmissionServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != PATH:
            self._send(404, b'{"error": "not found: POST /validate"}')
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, b'{"error": "Content-Length required"}', close=True)
            return
        if length < 0 or length > self.server.limits.max_body:
            self._send(413, b'{"error": "request too large"}', close=True)
            return
        body = self.rfile.read(length)
        began = time.perf_counter()
        try:
            result = answer(body, self.server.engine)
        except Exception as exc:  # a bug must not look like a verdict: 500, failurePolicy decides
            log.error("AdmissionReview failed: %s", type(exc).__name__)
            result = Answer(500, b'{"error": "internal error"}', Outcome("errored"))
        # Counted before the answer leaves: whoever sees the answer sees it in /metrics too.
        self.server.observe(result.outcome, time.perf_counter() - began)
        self._send(result.status, result.body)

    def do_GET(self) -> None:
        self._send(404, b'{"error": "not found: POST /validate"}')

    def _send(self, code: int, body: bytes, *, close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("https: " + format, *args)


class AdmissionServer(ThreadingHTTPServer):
    """Serves ``POST /validate`` over TLS from a background thread until :meth:`close`."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        engine: Engine,
        certificates: CertificateFiles,
        metrics: AdmissionMetrics,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.certificates = certificates
        self.metrics = metrics
        self.limits = limits or Limits()
        self._open = threading.BoundedSemaphore(self.limits.max_connections)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stall
        context = self.certificates.context()
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self._open.acquire(blocking=False):
            return True
        self.metrics.refused.inc()
        return False

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(self.limits.read_timeout)
            request.do_handshake()
        except (OSError, ssl.SSLError):
            self.shutdown_request(request)
            self._open.release()
            return
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._open.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address[0])

    def observe(self, outcome: Outcome, seconds: float) -> None:
        self.metrics.record(outcome, seconds)
        if outcome.result == "denied" and outcome.verdict is not None:
            log.info(
                "denied %s %s/%s%s: %s",
                outcome.kind,
                outcome.namespace,
                outcome.name,
                " (dry run)" if outcome.dry_run else "",
                outcome.verdict.message(),
            )
        elif outcome.result == "errored":
            log.warning("could not judge a request: %s", outcome.reason or "bad request")

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, name="kubereload-admission", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

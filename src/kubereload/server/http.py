"""The HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` on ``--listen``.

Its clients are not trusted (anything on the pod network can connect), so every resource is
bounded: one thread serves every connection from a ``selectors`` loop (no thread per
connection); a connection must deliver a complete request head within ``request_timeout`` (also
the keep-alive idle limit), of at most ``max_head`` bytes, without a body; at most
``max_connections`` are open (the longest idle one makes room for a new one, so a flood of
half-open connections cannot lock the kubelet's probes out); a client that does not read its
answers gets no more of them. A client's misbehaviour (reset, timeout, garbage) is one DEBUG line.

Three tiny read-only pages need neither a framework nor asyncio: a plain non-blocking loop costs
a few tens of microseconds per probe, a third of what asyncio's transports cost, which is what
keeps 200 probes at once within a p99 of 20 ms (``bench/bench_status.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from kubereload.server.health import HealthRegistry
from kubereload.server.metrics import Registry

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class ServerLimits:
    """What one client may cost the status server."""

    max_connections: int = 256
    request_timeout: float = 10.0  # seconds for a request head to arrive (and keep-alive idle)
    max_head: int = 8192  # bytes of request line and headers
    backlog: int = 1024  # pending connections the kernel queues (capped by somaxconn)
    write_buffer: int = 256 * 1024  # bytes of unread responses before pipelined requests wait


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all interfaces) or ``[IPv6]:PORT``; port 0 picks a free one."""
    usage = f"listen address {value!r} is not HOST:PORT (e.g. :9090, 127.0.0.1:9090, [::1]:9090)"
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(usage)
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(usage)
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(usage) from None
    elif "]" in host or ":" in host or " " in host:
        raise ValueError(usage)
    return (host or "0.0.0.0", int(port))  # noqa: S104 (a sidecar serves the pod network)


class _Connection:
    """One client: requests read, answered in order; closed when it is done, misbehaves or
    times out. Lives in the server's loop thread only."""

    def __init__(self, server: StatusServer, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()
        self.out = bytearray()
        self.close_after_write = False
        self.deadline = 0.0
        self.registered = False  # with the selector: not until it has to wait

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.server.drop(self, f"read failed ({type(exc).__name__})")
            return
        if not data:
            self.server.drop(self, None)
            return
        self.buffer += data
        self.serve_buffered()

    def on_writable(self) -> None:
        self.flush()
        if not self.out and not self.close_after_write and self.server.is_open(self):
            self.server.want(self, selectors.EVENT_READ)
            self.serve_buffered()

    def serve_buffered(self) -> None:
        limits = self.server.limits
        while not self.out and not self.close_after_write:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0 and len(self.buffer) <= limits.max_head:
                return
            if end < 0 or end > limits.max_head:
                self.respond(431, "request head too large\n", close=True)
                break
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self.server.rearm(self)
            self.answer(head)
        self.flush()

    def answer(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.respond(400, "bad request\n", close=True)
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self.respond(400, "bad request\n", close=True)
                return
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            self.respond(400, "no request body is accepted\n", close=True)
            return
        close = headers.get("connection") == "close" or (
            version == "HTTP/1.0" and headers.get("connection") != "keep-alive"
        )
        if method not in ("GET", "HEAD"):
            self.respond(405, "only GET and HEAD\n", close=True, extra="Allow: GET, HEAD\r\n")
            return
        code, body, content_type = self.server.page(target.split("?", 1)[0])
        self.respond(code, body, close=close, content_type=content_type, head=method == "HEAD")

    def respond(
        self,
        code: int,
        body: str,
        *,
        close: bool,
        content_type: str = TEXT,
        head: bool = False,
        extra: str = "",
    ) -> None:
        data = body.encode()
        self.out += (
            f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n{extra}"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        ).encode()
        if not head:
            self.out += data
        self.close_after_write = close

    def flush(self) -> None:
        """Send what is pending; wait for the client to read before answering more of it."""
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self.server.drop(self, f"write failed ({type(exc).__name__})")
                return
            del self.out[:sent]
        if self.out:
            self.server.want(self, selectors.EVENT_WRITE)
        elif self.close_after_write:
            self.server.drop(self, None)


class StatusServer:
    """Serves health and metrics from one background thread until ``close()``.

    The socket is bound here, so a bad or taken address fails at start-up (``OSError``) and
    ``port`` is known before ``start()``.
    """

    def __init__(
        self,
        address: tuple[str, int],
        metrics: Registry,
        health: HealthRegistry,
        limits: ServerLimits | None = None,
        *,
        metrics_path: str = "/metrics",
    ) -> None:
        if not metrics_path.startswith("/"):
            raise ValueError(f"metrics path {metrics_path!r} must start with /")
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.health = health
        self.limits = limits or ServerLimits()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(address)
            self._listener.listen(self.limits.backlog)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        # Every open connection, the one whose deadline comes first first: deadlines are all
        # "now + request_timeout" when set, so moving a connection to the end keeps the order.
        self._by_deadline: dict[_Connection, None] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    # -- pages ------------------------------------------------------------------------------

    def page(self, path: str) -> tuple[int, str, str]:
        """(status, body, content type) for ``GET path``."""
        if path == self.metrics_path:
            return 200, self.metrics.render(), METRICS_CONTENT_TYPE
        if path in ("/healthz", "/livez"):
            return self._health("live")
        if path == "/readyz":
            return self._health("ready")
        return 404, f"not found: try /healthz, /readyz or {self.metrics_path}\n", TEXT

    def _health(self, kind: str) -> tuple[int, str, str]:
        results = self.health.check(kind)
        ok = all(r.ok for r in results)
        lines = [f"[{'+' if r.ok else '-'}] {r.name}: {r.reason}" for r in results]
        lines.append("ok" if ok else f"{'healthz' if kind == 'live' else 'readyz'} check failed")
        return (200 if ok else 503), "\n".join(lines) + "\n", TEXT

    # -- connections (loop thread only) -----------------------------------------------------

    def is_open(self, connection: _Connection) -> bool:
        return connection in self._by_deadline

    def want(self, connection: _Connection, events: int) -> None:
        if connection.registered:
            self._selector.modify(connection.sock, events, connection)
        else:
            self._selector.register(connection.sock, events, connection)
            connection.registered = True

    def rearm(self, connection: _Connection) -> None:
        """A request arrived: the clock starts again for the next one."""
        self._by_deadline.pop(connection, None)
        connection.deadline = time.monotonic() + self.limits.request_timeout
        self._by_deadline[connection] = None

    def drop(self, connection: _Connection, why: str | None) -> None:
        if connection not in self._by_deadline:
            return  # already closed
        del self._by_deadline[connection]
        if why is not None:
            log.debug("status client %s: %s", connection.peer, why)
        if connection.registered:
            self._selector.unregister(connection.sock)
        connection.sock.close()

    def _accept(self) -> None:
        for _ in range(self.limits.backlog):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of fds, or the client gave up already
                log.debug("status server: accept failed (%s)", type(exc).__name__)
                return
            if len(self._by_deadline) >= self.limits.max_connections:
                oldest = next(iter(self._by_deadline))
                self.drop(oldest, "connection limit reached: closed the longest idle one")
            sock.setblocking(False)
            connection = _Connection(self, sock, f"{peer[0]}:{peer[1]}")
            connection.deadline = time.monotonic() + self.limits.request_timeout
            self._by_deadline[connection] = None
            connection.on_readable()  # a probe's request is usually there already
            if self.is_open(connection) and not connection.registered:
                self.want(connection, selectors.EVENT_READ)

    def _expire(self) -> float | None:
        """Close connections past their deadline; seconds until the next one, if any."""
        now = time.monotonic()
        while self._by_deadline:
            first = next(iter(self._by_deadline))
            if first.deadline > now:
                return first.deadline - now
            self.drop(first, "no request within the timeout")
        return None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._loop, name="kubereload-http", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for key, events in self._selector.select(self._expire()):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif isinstance(key.data, _Connection) and self.is_open(key.data):
                        if events & selectors.EVENT_WRITE:
                            key.data.on_writable()
                        else:
                            key.data.on_readable()
        finally:
            for connection in list(self._by_deadline):
                self.drop(connection, None)

    def close(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(timeout=5)
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

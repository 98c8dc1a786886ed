"""HTTP for the test API server: a threaded HTTP/1.1 server (optionally TLS) whose handler
answers with one write per response and streams watches as chunked transfer encoding."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from kubeapi.status import ApiError
from kubeapi.store import encode

if TYPE_CHECKING:
    from kubeapi.server import KubeAPIServer


@dataclass
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"


def json_response(code: int, obj: Any) -> Response:
    return Response(code, encode(obj))


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    block_on_close = True
    request_queue_size = 128
    api: KubeAPIServer
    tls: ssl.SSLContext | None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:  # the handshake happens in the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (or failed the TLS handshake) is not an error of the server."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.closing = False
        super().server_bind()

    def close_connections(self) -> None:
        with self.connections_lock:
            self.closing = True
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
            if self.server.closing:  # accepted just before stop(): end it like the others
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `request_log` instead."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, response: Response, extra: str = "") -> None:
        head = (
            f"HTTP/1.1 {response.code} {self.responses.get(response.code, ('',))[0]}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            "Cache-Control: no-cache, private\r\n"
            f"{extra}\r\n"
        )
        self.wfile.write(head.encode() + response.body)

    def _serve(self) -> None:
        api = self.server.api
        body = self._read_body()
        try:
            api.check_request(self.command, self.path, self.headers.get("Authorization"))
            response = api.route(self, self.command, self.path, body)
        except ApiError as err:
            extra = f"Retry-After: {err.retry_after}\r\n" if err.retry_after is not None else ""
            self.send(json_response(err.code, err.status()), extra)
            return
        except Exception as exc:  # a bug here: answer as the real server would, and show it
            traceback.print_exc()
            self.send(json_response(500, ApiError(500, f"test API server bug: {exc!r}").status()))
            return
        if response is not None:
            self.send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def begin_stream(self) -> None:
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n"
        )

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def cut(self) -> None:
        """End the connection abruptly, mid-stream."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

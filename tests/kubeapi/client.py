"""A small HTTP client for tests that speak the API directly (requests and watch streams)."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from typing import Any
from urllib.parse import urlsplit

CM = "/api/v1/namespaces/default/configmaps"  # the default namespace's ConfigMaps


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Requests to one server with a bearer token, each on a fresh connection."""

    def __init__(self, url: str, token: str | None = "test-token") -> None:
        split = urlsplit(url)
        if split.scheme != "http" or split.hostname != "127.0.0.1":
            raise ValueError(f"tests talk only to http://127.0.0.1, not {url}")
        self.port = split.port or 80
        self.token = token

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Reply:
        conn = self._connect(10)
        try:
            data = None if body is None else body if isinstance(body, bytes) else json.dumps(body)
            conn.request(method, path, body=data, headers=self._headers(content_type))
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def watch(self, path: str) -> Watch:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        headers = "".join(f"{k}: {v}\r\n" for k, v in self._headers(None).items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        return Watch(sock)


class StreamCut(ConnectionError):
    """The server closed the connection in the middle of a chunked stream."""


class Watch:
    """One open watch, read with its own chunked decoder so that a clean end (the last chunk),
    a cut (the connection closing mid-stream) and silence (a timeout) are told apart."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._raw = b""  # bytes received, not yet decoded
        self._lines = b""  # decoded stream body, not yet split into events
        self._ended = False
        head = self._until(b"\r\n\r\n", 10.0)
        status_line, *header_lines = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = dict(line.split(": ", 1) for line in header_lines if line)
        self.chunked = self.headers.get("Transfer-Encoding") == "chunked"
        self._length = int(self.headers.get("Content-Length", "-1"))

    def _receive(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
            raise TimeoutError("nothing received from the watch in time")
        data = self.sock.recv(65536)
        if not data:
            raise StreamCut("the connection closed in the middle of the stream")
        self._raw += data

    def _until(self, marker: bytes, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self._raw:
            self._receive(deadline)
        head, self._raw = self._raw.split(marker, 1)
        return head

    def _decode(self, timeout: float) -> None:
        """Move one chunk (or a plain body) from the raw bytes to the decoded body."""
        deadline = time.monotonic() + timeout
        if not self.chunked:
            while len(self._raw) < self._length:
                self._receive(deadline)
            self._lines += self._raw + b"\n"
            self._ended = True
            return
        size = int(self._until(b"\r\n", timeout).split(b";")[0], 16)
        while len(self._raw) < size + 2:
            self._receive(deadline)
        if size == 0:
            self._ended = True
        self._lines += self._raw[:size]
        self._raw = self._raw[size + 2 :]

    def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next event, or None once the server ended the stream cleanly.

        Raises TimeoutError when nothing arrives in time (the watch stays usable) and
        StreamCut when the server closed the connection mid-stream.
        """
        while b"\n" not in self._lines:
            if self._ended:
                return None
            self._decode(timeout)
        line, self._lines = self._lines.split(b"\n", 1)
        if not line.strip():
            return self.next(timeout)
        event: dict[str, Any] = json.loads(line)
        return event

    def until(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """Skip events up to the first of type `kind` (e.g. skip bookmarks)."""
        while True:
            event = self.next(timeout)
            if event is None:
                raise AssertionError(f"stream ended before a {kind} event")
            if event["type"] == kind:
                return event

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

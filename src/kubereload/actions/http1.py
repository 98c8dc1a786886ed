"""A minimal HTTP/1.1 client for plain ``http://`` webhooks, over one kept-alive connection.

Why not ``http.client``: it imports ``ssl`` (OpenSSL, about 4 MB resident) and ``email`` even for
a plain call to localhost, and it opens a new connection per request. Here a reload is one write
of the request on a connection already open (TCP_NODELAY, no Nagle delay) and one read of the
answer; the host is resolved as ASCII bytes, so no IDNA codec is loaded either.

Bounded: a status line or header of at most 64 KiB, 100 headers, 64 KiB of body read (the rest
is dropped with the connection). A kept-alive connection the target closed meanwhile is replaced
once, before anything of the answer has arrived; a timeout is never retried here.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Mapping
from typing import BinaryIO

LINE_LIMIT = 65536
MAX_HEADERS = 100
BODY_LIMIT = 65536


class ProtocolError(OSError):
    """The target's answer is not HTTP/1.x, or passes a bound."""


class StaleConnection(OSError):
    """A kept-alive connection that was closed before any answer: safe to send again."""


class Connection:
    """Requests to one ``host:port``, one at a time, reusing the connection while it lasts."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._address: str | bytes = host.encode("ascii") if host.isascii() else host
        self._host_header = f"[{host}]" if ":" in host else host
        if port != 80:
            self._host_header += f":{port}"
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None
        self._lock = threading.Lock()

    def request(
        self, method: str, path: str, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, str]:
        """Send a body-less request; return (status, reason). OSError (TimeoutError included)
        or ProtocolError when it fails; the connection is then closed."""
        deadline = time.monotonic() + timeout
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        data = (head + "\r\n").encode("latin-1")
        with self._lock:
            try:
                try:
                    return self._exchange(data, deadline, reused=self._usable())
                except StaleConnection:
                    self._close()
                    return self._exchange(data, deadline, reused=False)
            except BaseException:
                self._close()
                raise

    def close(self) -> None:
        with self._lock:
            self._close()

    def _usable(self) -> bool:
        """A kept connection with nothing to read: one the target has not closed."""
        if self._sock is None:
            return False
        readable, _, _ = select.select([self._sock], [], [], 0)
        if readable:  # EOF or stray bytes: either way not a clean connection to reuse
            self._close()
            return False
        return True

    def _exchange(self, data: bytes, deadline: float, *, reused: bool) -> tuple[int, str]:
        if self._sock is None:
            # bytes pass at run time (typeshed says str): a str host would load the IDNA codec
            address = (self._address, self.port)
            sock = socket.create_connection(address, _left(deadline))  # type: ignore[arg-type]
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(0.0)  # at rest non-blocking: see _send
            self._sock, self._reader = sock, sock.makefile("rb")
        assert self._sock is not None and self._reader is not None
        sock, reader = self._sock, self._reader
        try:
            _send(sock, data, deadline)
            sock.settimeout(_left(deadline))
            first = reader.readline(LINE_LIMIT + 1)
        except (BrokenPipeError, ConnectionResetError) as exc:
            if reused:
                raise StaleConnection from exc
            raise
        if not first:
            if reused:
                raise StaleConnection
            raise ProtocolError("the connection closed without an answer")
        status, reason, version = _status_line(first)
        fields = _headers(reader)
        while status == 100:  # an interim answer; the final one follows
            sock.settimeout(_left(deadline))
            status, reason, version = _status_line(reader.readline(LINE_LIMIT + 1))
            fields = _headers(reader)
        sock.settimeout(_left(deadline))
        complete = _skip_body(reader, fields, no_body=status in (204, 304) or status < 200)
        keep = complete and version == "HTTP/1.1" and "close" not in fields.get("connection", "")
        if keep:
            sock.settimeout(0.0)
        else:
            self._close()
        return status, reason

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None


def _send(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Send a request on a non-blocking socket: one ``send`` when the buffer has room (a
    small request always does), without the ``poll`` and mode switch that a socket timeout
    costs first; the rest, if any, with the deadline."""
    try:
        sent = sock.send(data)
    except BlockingIOError:
        sent = 0
    if sent < len(data):
        sock.settimeout(_left(deadline))
        sock.sendall(data[sent:])


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _status_line(line: bytes) -> tuple[int, str, str]:
    if len(line) > LINE_LIMIT:
        raise ProtocolError("status line too long")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1].isdigit():
        raise ProtocolError("not an HTTP/1.x status line")
    status = int(parts[1])
    if not 100 <= status <= 599:
        raise ProtocolError("status code out of range")
    return status, parts[2] if len(parts) > 2 else "", parts[0]


def _headers(reader: BinaryIO) -> dict[str, str]:
    """Header fields, names lowercased (a repeated one keeps its last value)."""
    fields: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = reader.readline(LINE_LIMIT + 1)
        if len(line) > LINE_LIMIT:
            raise ProtocolError("header line too long")
        if line in (b"\r\n", b"\n"):
            return fields
        if not line:
            raise ProtocolError("the connection closed in the headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError("a header line without ':'")
        fields[name.strip().lower()] = value.strip()
    raise ProtocolError(f"more than {MAX_HEADERS} headers")


def _skip_body(reader: BinaryIO, fields: Mapping[str, str], *, no_body: bool) -> bool:
    """Read (at most BODY_LIMIT of) the body; True when it was read to its end."""
    if no_body:
        return True
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return _skip_chunks(reader)
    length = fields.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError("a Content-Length that is not a number")
        size = int(length)
        got = len(reader.read(min(size, BODY_LIMIT)))
        return got == size
    reader.read(BODY_LIMIT)  # delimited by the end of the connection
    return False


def _skip_chunks(reader: BinaryIO) -> bool:
    total = 0
    while total <= BODY_LIMIT:
        line = reader.readline(LINE_LIMIT + 1)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError("a chunk size that is not hexadecimal") from None
        if size == 0:
            _headers(reader)  # trailers, up to the blank line
            return True
        total += size
        if total > BODY_LIMIT:
            break
        if len(reader.read(size + 2)) != size + 2:
            raise ProtocolError("the connection closed in the body")
    return False

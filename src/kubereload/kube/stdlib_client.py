"""The API server over the standard library alone (``http.client`` + ``ssl``): a list, and a
watch stream read without blocking, for the library's API source.

An application that watches one ConfigMap should not pay for an async HTTP client: httpx2 and
asyncio add about 7 MB to its memory. A list is one blocking request on its own connection; a
watch is a blocking request up to its headers, then a socket that the caller's selector reads
as bytes arrive (:meth:`WatchStream.read`), so one thread serves any number of watches. Errors
are kubereload's (:mod:`kube.errors`), in our own words: never a body, header or token. Every
body is bounded.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kubereload.kube.config import Cluster, Credentials, keepalive_options, proxy_for, ssl_context
from kubereload.kube.errors import (
    ApiError,
    ConnectError,
    ReadTimeoutError,
    TransportError,
    retry_after,
    status_error,
)
from kubereload.kube.resources import Resource

JsonObject = dict[str, Any]
MAX_BODY_BYTES = 16 * 1024 * 1024
"""A list answer or one watch event: a Secret or ConfigMap holds at most 1 MiB of data."""
MAX_CHUNK_LINE = 1024
READ_SIZE = 65536


class StdlibClient:
    """Requests to one cluster; safe to use from one thread at a time."""

    def __init__(self, cluster: Cluster, *, timeout: float = 30.0) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self._credentials = Credentials(cluster)
        self._url = urllib.parse.urlsplit(cluster.server)
        self._tls = ssl_context(cluster) if self._url.scheme == "https" else None
        self._proxy = proxy_for(cluster.server)

    def list(
        self, resource: Resource, namespace: str | None, params: Mapping[str, str]
    ) -> JsonObject:
        """One list answer, decoded; any error answer as :class:`ApiError`."""
        conn, _sock, response = self._request(resource.path(namespace), params, buffered=True)
        try:
            body = _read_body(response)
        finally:
            conn.close()
        try:
            result: JsonObject = json.loads(body)
        except ValueError:
            raise TransportError("the list answer is not JSON") from None
        return result

    def watch(
        self, resource: Resource, namespace: str | None, params: Mapping[str, str]
    ) -> WatchStream:
        """A watch the server accepted (status 200); read it with :meth:`WatchStream.read`."""
        conn, sock, response = self._request(resource.path(namespace), params, buffered=False)
        return WatchStream(conn, sock, response)

    def _request(
        self, path: str, params: Mapping[str, str], *, buffered: bool
    ) -> tuple[http.client.HTTPConnection, socket.socket, http.client.HTTPResponse]:
        """The connection, its socket (which outlives ``conn.sock`` when the server said it
        will close) and the response to a GET whose status is 200."""
        query = f"{path}?{urllib.parse.urlencode(params)}" if params else path
        for attempt in (1, 2):
            conn = self._connection(buffered)
            sock = conn.sock
            assert sock is not None
            try:
                response = self._send(conn, query)
            except BaseException:
                conn.close()
                raise
            if response.status == 200:
                return conn, sock, response
            try:
                body = _read_body(response, limit=64 * 1024)
            finally:
                conn.close()
            if response.status == 401 and attempt == 1:
                self._credentials.rejected()  # a token rotated or expired: read it afresh, once
                continue
            raise _answer_error(response, body)
        raise AssertionError("unreachable")

    def _connection(self, buffered: bool) -> http.client.HTTPConnection:
        host, port = self._url.hostname or "", self._url.port
        target_host, target_port = host, port
        if self._proxy is not None:
            proxy = urllib.parse.urlsplit(self._proxy)
            target_host, target_port = proxy.hostname or "", proxy.port
        conn: http.client.HTTPConnection
        if self._tls is not None:
            conn = http.client.HTTPSConnection(
                target_host, target_port or 443, timeout=self.timeout, context=self._tls
            )
            if self._proxy is not None:
                conn.set_tunnel(host, port or 443)
        else:
            conn = http.client.HTTPConnection(target_host, target_port or 80, timeout=self.timeout)
        if not buffered:
            conn.response_class = _UnbufferedResponse
        try:
            conn.connect()
        except ConnectionRefusedError as err:
            raise ConnectError("connection refused") from err
        except ssl.SSLCertVerificationError as err:
            raise ConnectError("TLS: the server's certificate is not trusted") from err
        except ssl.SSLError as err:
            raise ConnectError(f"TLS handshake failed ({type(err).__name__})") from err
        except TimeoutError as err:
            raise ConnectError(f"no connection within {self.timeout:g} s") from err
        except OSError as err:
            raise ConnectError(f"cannot connect ({err.strerror or type(err).__name__})") from err
        assert conn.sock is not None
        for level, option, value in keepalive_options():
            conn.sock.setsockopt(level, option, value)
        return conn

    def _send(self, conn: http.client.HTTPConnection, query: str) -> http.client.HTTPResponse:
        url = query
        if self._proxy is not None and self._tls is None:  # a plain proxy takes the absolute form
            url = f"{self.cluster.server}{query}"
        headers = {"Accept": "application/json", "User-Agent": "kubereload"}
        authorization = self._credentials.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            conn.request("GET", url, headers=headers)
            return conn.getresponse()
        except TimeoutError as err:
            raise ReadTimeoutError(f"no answer within {self.timeout:g} s") from err
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(f"no usable answer ({type(err).__name__})") from err


class _UnbufferedResponse(http.client.HTTPResponse):
    """Reads its headers byte by byte, so no byte of the body waits in a Python buffer: the
    socket (and TLS's own buffer, ``pending()``) then hold all of it, and a selector sees it."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # the buffered reader made above: nothing read from it yet
        self.fp = sock.makefile("rb", buffering=0)  # type: ignore[assignment]


def _read_body(response: http.client.HTTPResponse, limit: int = MAX_BODY_BYTES) -> bytes:
    try:
        body = response.read(limit + 1)
    except TimeoutError as err:
        raise ReadTimeoutError("the answer stopped arriving") from err
    except (OSError, http.client.HTTPException) as err:
        raise TransportError(f"the answer broke off ({type(err).__name__})") from err
    if len(body) > limit:
        raise TransportError(f"the answer is larger than {limit} bytes")
    return body


def _answer_error(response: http.client.HTTPResponse, body: bytes) -> ApiError:
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    return status_error(response.status, status, retry_after(response.getheader("Retry-After")))


class WatchStream:
    """The body of an accepted watch: ``fileno()`` for a selector, :meth:`read` when readable.

    A chunked body (as the API server sends) is decoded here; one that is not is read to the
    connection's end. :attr:`ended` is set when the server ended the watch cleanly.
    """

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        sock: socket.socket,
        response: http.client.HTTPResponse,
    ) -> None:
        self._conn = conn
        self._sock = sock
        self._response = response
        self._chunked = bool(response.chunked)  # nothing of the body was read: it is ours
        self._raw = bytearray()  # chunked framing not yet decoded
        self._body = bytearray()  # decoded body not yet a whole line
        self._left = 0  # bytes of the current chunk still to come
        self._after_chunk = False  # a chunk's closing CRLF is due
        self.ended = False
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self) -> list[bytes]:
        """Whatever whole lines (watch events) have arrived; never blocks. Raises
        :class:`TransportError` when the connection broke off mid-watch."""
        closed = False
        while True:
            try:
                data = self._sock.recv(READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as err:
                raise TransportError(f"the watch broke off ({type(err).__name__})") from err
            if not data:
                closed = True
                break
            if self._chunked:
                self._unframe(data)
            else:
                self._body += data
            if self.ended:
                break
        lines = self._lines()
        if closed and not self.ended:
            if self._chunked:
                raise TransportError("the watch connection closed mid-stream")
            self.ended = True  # a body delimited by the connection's end
        return lines

    def _unframe(self, data: bytes) -> None:
        raw = self._raw
        raw += data
        while raw and not self.ended:
            if self._left:
                take = min(self._left, len(raw))
                self._body += raw[:take]
                del raw[:take]
                self._left -= take
                self._after_chunk = self._left == 0
                continue
            end = raw.find(b"\r\n")
            if end < 0:
                if len(raw) > MAX_CHUNK_LINE:
                    raise TransportError("the watch is not valid chunked HTTP")
                return
            line = bytes(raw[:end])
            del raw[: end + 2]
            if self._after_chunk:
                if line:
                    raise TransportError("the watch is not valid chunked HTTP")
                self._after_chunk = False
                continue
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise TransportError("the watch is not valid chunked HTTP") from None
            if size == 0:
                self.ended = True
            self._left = size

    def _lines(self) -> list[bytes]:
        body = self._body
        end = body.rfind(b"\n")
        if end < 0:
            if len(body) > MAX_BODY_BYTES:
                raise TransportError(f"a watch event is larger than {MAX_BODY_BYTES} bytes")
            return []
        lines = bytes(body[:end]).split(b"\n")
        del body[: end + 1]
        return [line for line in lines if line.strip()]

    def close(self) -> None:
        self._response.close()
        self._conn.close()
        self._sock.close()

"""The API server by verb: get, list, watch, patch, create, replace — the one HTTP layer.

As kopf splits its API client by verb: each method builds the path from a ``Resource``, sends
one request, and turns any answer but success into :class:`ApiError` (409 :class:`ConflictError`,
410 :class:`GoneError`) and any httpx exception into :class:`TransportError`, here and only here.
Nothing outside ``kubereload.kube`` imports the HTTP library.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx2 as httpx

from kubereload.kube.config import (
    Cluster,
    Credentials,
    keepalive_options,
    proxy_for,
    ssl_context,
)
from kubereload.kube.errors import (
    ApiError,
    ConnectError,
    KubeError,
    ReadTimeoutError,
    TransportError,
    retry_after,
    status_error,
)
from kubereload.kube.resources import Resource

JsonObject = dict[str, Any]
WATCH_CONNECT_TIMEOUT = 30.0


def transport_error(err: httpx.HTTPError) -> TransportError:
    """The kubereload error for an httpx exception: its type name and text (which names the
    failure and the URL, never a body)."""
    cls: type[TransportError] = TransportError
    if isinstance(err, httpx.ReadTimeout):
        cls = ReadTimeoutError
    elif isinstance(err, httpx.ConnectError):
        cls = ConnectError
    return cls(f"{type(err).__name__}: {err}")


def response_error(response: httpx.Response) -> ApiError:
    """The error for a finished (read) non-2xx response."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    return status_error(
        response.status_code, body, retry_after(response.headers.get("Retry-After"))
    )


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as err:
        raise transport_error(err) from err


class CredentialsAuth(httpx.Auth):
    """The cluster's :class:`Credentials` on each request, read afresh once after a 401. An
    exec plugin runs off the event loop; a token file's ``stat`` is cheap enough to stay on."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._runs_plugin = credentials.cluster.exec_plugin is not None

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await self._authorize(request)
        response = yield request
        if response.status_code == 401:
            self._credentials.rejected()
            await self._authorize(request)
            yield request

    async def _authorize(self, request: httpx.Request) -> None:
        if self._runs_plugin:
            header = await asyncio.to_thread(self._credentials.authorization)
        else:
            header = self._credentials.authorization()
        if header is not None:
            request.headers["Authorization"] = header


class _RequestLogAtDebug(logging.Filter):
    """httpx2 logs every request at INFO ("HTTP Request: GET ... 200"): with a Lease renewed
    every 2 s that fills the log. Its request lines become DEBUG records; warnings stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # the logger let it through as INFO: pass it on only where DEBUG is wanted
            return logging.getLogger("kubereload").isEnabledFor(logging.DEBUG)
        return True


_REQUEST_LOG_FILTER = _RequestLogAtDebug()


def _requests_log_at_debug() -> None:
    for name in ("httpx2", "httpx"):
        http_logger = logging.getLogger(name)
        if _REQUEST_LOG_FILTER not in http_logger.filters:
            http_logger.addFilter(_REQUEST_LOG_FILTER)


class KubeClient:
    """An authenticated connection to one API server (see :meth:`connect`)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @classmethod
    def connect(cls, cluster: Cluster, *, timeout: float = 30.0) -> KubeClient:
        """A client for the cluster: base URL, TLS and credentials set; JSON by default; TCP
        keepalive on every connection; request lines logged at DEBUG."""
        _requests_log_at_debug()
        verify = ssl_context(cluster) if cluster.server.startswith("https:") else False
        # Each informer holds one watch open for minutes: no cap on connections, or the
        # hundred-and-first informer of a controller would wait for a free one, and time out.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
        transport = httpx.AsyncHTTPTransport(
            verify=verify,
            limits=limits,
            socket_options=keepalive_options(),
            proxy=proxy_for(cluster.server),
        )
        http = httpx.AsyncClient(
            base_url=cluster.server,
            auth=CredentialsAuth(Credentials(cluster)),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "kubereload"},
        )
        return cls(http)

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        with _mapped():
            response = await self._http.request(
                method, path, params=params, json=json_body, content=content, headers=headers
            )
        if response.status_code not in ok:
            raise response_error(response)
        return response

    async def get(self, resource: Resource, namespace: str, name: str) -> JsonObject | None:
        """One object; None when it does not exist."""
        response = await self._send("GET", resource.path(namespace, name), ok=(200, 404))
        if response.status_code == 404:
            return None
        result: JsonObject = response.json()
        return result

    async def list_body(
        self, resource: Resource, namespace: str | None, params: Mapping[str, str]
    ) -> bytes:
        """One page of a list (``params``: limit, continue, selectors), undecoded: the
        informer decodes only the fields it keeps."""
        response = await self._send("GET", resource.path(namespace), params=params)
        return response.content

    @contextlib.asynccontextmanager
    async def watch(
        self,
        resource: Resource,
        namespace: str | None,
        params: Mapping[str, str],
        *,
        read_timeout: float,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """A watch stream as its lines; :class:`ReadTimeoutError` when no byte arrives within
        ``read_timeout`` seconds, and any error answer as :class:`ApiError`."""
        timeout = httpx.Timeout(WATCH_CONNECT_TIMEOUT, read=read_timeout)
        with _mapped():
            async with self._http.stream(
                "GET", resource.path(namespace), params=params, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise response_error(response)
                yield _lines(response)

    async def patch(
        self, resource: Resource, namespace: str, name: str, body: bytes, content_type: str
    ) -> JsonObject:
        """Patch one object (``content_type`` names the patch kind: merge, strategic, JSON)."""
        response = await self._send(
            "PATCH",
            resource.path(namespace, name),
            content=body,
            headers={"Content-Type": content_type},
        )
        result: JsonObject = response.json()
        return result

    async def create(self, resource: Resource, namespace: str, body: JsonObject) -> JsonObject:
        response = await self._send("POST", resource.path(namespace), ok=(200, 201), json_body=body)
        result: JsonObject = response.json()
        return result

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: JsonObject
    ) -> JsonObject:
        """PUT one object; with ``metadata.resourceVersion`` set, a lost race is a 409."""
        response = await self._send("PUT", resource.path(namespace, name), json_body=body)
        result: JsonObject = response.json()
        return result

    async def served(self, resource: Resource) -> bool:
        """Whether the server knows this resource (a CRD, say, may be absent)."""
        root = "/api/v1" if resource.api_version == "v1" else f"/apis/{resource.api_version}"
        try:
            response = await self._send("GET", root)
        except KubeError:  # not served, or no answer: treated alike, as before a CRD exists
            return False
        body = response.json()
        return any(r.get("name") == resource.plural for r in body.get("resources") or [])


async def _lines(response: httpx.Response) -> AsyncIterator[str]:
    with _mapped():
        async for line in response.aiter_lines():
            yield line

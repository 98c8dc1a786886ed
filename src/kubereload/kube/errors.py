"""kubereload's errors for the API: the server's answer (a ``Status``) or a failed transport.

Everything above ``kube/`` catches these, never the HTTP library's exceptions: ``KubeClient``
maps those once (``transport_error``), so a change of HTTP client stays inside this package.
No message echoes request data.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx


class KubeError(Exception):
    """Any failed call to the API server: an error answer or no answer at all."""


class TransportError(KubeError):
    """No usable answer: connection refused or reset, TLS failure, timeout, protocol error."""


class ConnectError(TransportError):
    """No connection at all: refused, unreachable, TLS handshake failed (a server down)."""


class ReadTimeoutError(TransportError):
    """The server sent no byte within the read timeout (on a watch: a stalled stream)."""


def transport_error(err: httpx.HTTPError) -> TransportError:
    """The kubereload error for an httpx exception: its type name and text (which names the
    failure and the URL, never a body)."""
    cls: type[TransportError] = TransportError
    if isinstance(err, httpx.ReadTimeout):
        cls = ReadTimeoutError
    elif isinstance(err, httpx.ConnectError):
        cls = ConnectError
    return cls(f"{type(err).__name__}: {err}")


class ApiError(KubeError):
    """A non-2xx answer: HTTP status, the Status reason and message, and Retry-After if sent."""

    def __init__(
        self, code: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code} {reason}: {message}" if message else f"{code} {reason}")
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class GoneError(ApiError):
    """410 Gone: the resourceVersion asked for is older than the server's history."""


class ConflictError(ApiError):
    """409 Conflict: the object changed (or exists) since it was read."""


def status_error(code: int, status: Any, retry_after: float | None = None) -> ApiError:
    """Build the error for HTTP ``code`` from a decoded ``Status`` body (or anything else)."""
    reason, message = "", ""
    if isinstance(status, dict):
        code = int(status.get("code") or code)
        reason = str(status.get("reason") or "")
        message = str(status.get("message") or "")
    cls = {410: GoneError, 409: ConflictError}.get(code, ApiError)
    reason = reason or httpx.codes.get_reason_phrase(code)
    return cls(code, reason, message, retry_after=retry_after)


def response_error(response: httpx.Response) -> ApiError:
    """The error for a finished (read) non-2xx response."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    return status_error(response.status_code, body, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from the API server; fall back to our own backoff

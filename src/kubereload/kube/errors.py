"""kubereload's errors for the API: the server's answer (a ``Status``) or a failed transport.

Everything above ``kube/`` catches these, never the HTTP library's exceptions: each transport
(``KubeClient``, the API source's ``kube.transport``) maps its own once, so a change of HTTP
client stays inside this package. No message echoes request data. Imports no HTTP library.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class KubeError(Exception):
    """Any failed call to the API server: an error answer or no answer at all."""


class TransportError(KubeError):
    """No usable answer: connection refused or reset, TLS failure, timeout, protocol error."""


class ConnectError(TransportError):
    """No connection at all: refused, unreachable, TLS handshake failed (a server down)."""


class ReadTimeoutError(TransportError):
    """The server sent no byte within the read timeout (on a watch: a stalled stream)."""


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
    reason = reason or _reason_phrase(code)
    return cls(code, reason, message, retry_after=retry_after)


def _reason_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None if absent or not a number of seconds."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from the API server; fall back to our own backoff

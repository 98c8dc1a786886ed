"""API errors as the real server sends them: `Status` objects with code, reason and details."""

from __future__ import annotations

from typing import Any

from kubeapi.resources import Resource

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answer; `status()` is the body the real server would send."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        list_meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.list_meta = list_meta or {}
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else REASONS.get(code, "")
        self.details = dict(details or {})
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retryAfterSeconds"] = retry_after

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.list_meta,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown is "", left out of the JSON
            del body["reason"]
        if self.details:
            body["details"] = self.details
        return body


def _details(res: Resource, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return details


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, f'{res.group_resource} "{name}" not found', details=_details(res, name))


def already_exists(res: Resource, name: str) -> ApiError:
    msg = f'{res.group_resource} "{name}" already exists'
    return ApiError(409, msg, reason="AlreadyExists", details=_details(res, name))


def conflict(res: Resource, name: str, why: str) -> ApiError:
    msg = f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}'
    return ApiError(409, msg, reason="Conflict", details=_details(res, name))


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(res: Resource, name: str, field: str, problem: str) -> ApiError:
    """422 Invalid with one cause, worded like apimachinery's field errors."""
    return ApiError(
        422,
        f'{res.kind} "{name}" is invalid: {field}: {problem}',
        details={
            "name": name,
            **({"group": res.group} if res.group else {}),
            "kind": res.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": field}],
        },
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def expired(message: str, list_meta: dict[str, Any] | None = None) -> ApiError:
    return ApiError(410, message, reason="Expired", list_meta=list_meta)


def too_large_rv(requested: int, current: int) -> ApiError:
    return ApiError(
        504,
        f"Timeout: Too large resource version: {requested}, current: {current}",
        reason="Timeout",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ]
        },
        retry_after=1,
    )


def bad_name(given: object, url_name: str) -> ApiError:
    return bad_request(
        f"the name of the object ({given}) does not match the name on the URL ({url_name})"
    )


def bad_namespace() -> ApiError:
    return bad_request(
        "the namespace of the provided object does not match the namespace sent on the request"
    )


def int_param(query: dict[str, str], name: str) -> int:
    """A non-negative integer query parameter (0 when absent), or 400."""
    value = query.get(name) or "0"
    if not value.isdigit():
        raise bad_request(f'{name}: Invalid value: "{value}": must be a non-negative integer')
    return int(value)

"""What the real server does to an object on create and update, type by type.

Metadata (uid, creationTimestamp, generation), defaults, Secret `stringData`, the status
subresource split, immutability and validation of names, labels and data keys.
"""

from __future__ import annotations

import base64
import binascii
import copy
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from kubeapi.resources import Resource
from kubeapi.status import ApiError, bad_namespace, bad_request, invalid

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_DATA_KEY = r"[-._a-zA-Z0-9]+"
_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the real server's alphabet for generateName
_SERVER_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp")
_DROPPED_META = ("managedFields", "selfLink", "deletionGracePeriodSeconds")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_GENERATE_CHARS) for _ in range(5))


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """kind, apiVersion, metadata first, as the real server's Go structs serialize."""
    head = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
    return head | {k: v for k, v in obj.items() if k not in head}


def _validate_meta(res: Resource, meta: dict[str, Any]) -> None:
    name = meta.get("name") or ""
    if res.kind == "Namespace":
        pattern, what, limit = _LABEL, "a lowercase RFC 1123 label", 63
    else:
        pattern, what, limit = _SUBDOMAIN, "a lowercase RFC 1123 subdomain", 253
    if not re.fullmatch(pattern, name) or len(name) > limit:
        raise invalid(
            res,
            name,
            "metadata.name",
            f'Invalid value: "{name}": {what} must consist of lower case alphanumeric '
            f"characters, '-' or '.', and must start and end with an alphanumeric character "
            f"(regex used for validation is '{pattern}')",
        )
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise bad_request(f"metadata.{field} must be a map of strings")
    for key, value in (meta.get("labels") or {}).items():
        if len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
            raise invalid(
                res,
                name,
                "metadata.labels",
                f'Invalid value: "{value}": a valid label must be an empty string or consist of '
                f"alphanumeric characters, '-', '_' or '.' (label {key})",
            )


def _check_keys(res: Resource, name: str, field: str, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad_request(f'{res.kind} in version "v1" cannot be handled: {field} is not a map')
    for key in data:
        if not re.fullmatch(_DATA_KEY, key) or key in (".", ".."):
            raise invalid(
                res,
                name,
                f"{field}[{key}]",
                f'Invalid value: "{key}": a valid config key must consist of alphanumeric '
                "characters, '-', '_' or '.'",
            )
    return data


def _check_base64(res: Resource, field: str, data: dict[str, Any]) -> None:
    for value in data.values():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise bad_request(
                f'{res.kind} in version "v1" cannot be handled as a {res.kind}: '
                f"illegal base64 data in {field}"
            ) from exc


def _normalize_data(res: Resource, obj: dict[str, Any]) -> None:
    name = obj["metadata"].get("name", "")
    if res.kind == "ConfigMap":
        data = _check_keys(res, name, "data", obj.get("data"))
        binary = _check_keys(res, name, "binaryData", obj.get("binaryData"))
        _check_base64(res, "binaryData", binary)
        if any(not isinstance(v, str) for v in data.values()):
            raise bad_request(
                'ConfigMap in version "v1" cannot be handled: data values are strings'
            )
        for key in set(data) & set(binary):
            raise invalid(
                res, name, "data", f'Invalid value: "{key}": duplicate of key in binaryData'
            )
    elif res.kind == "Secret":
        data = dict(_check_keys(res, name, "data", obj.get("data")))
        _check_base64(res, "data", data)
        string_data = _check_keys(res, name, "stringData", obj.pop("stringData", None))
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data or "data" in obj:
            obj["data"] = data
        obj.setdefault("type", "Opaque")


def _apply_defaults(res: Resource, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if res.kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif isinstance(spec, dict) and res.kind in ("Deployment", "StatefulSet"):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if res.kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        if res.kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
            )
    elif isinstance(spec, dict) and res.kind == "DaemonSet":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        )


def _initial_status(res: Resource) -> dict[str, Any] | None:
    if res.kind == "Namespace":
        return {"phase": "Active"}
    if res.kind == "Pod":
        return {"phase": "Pending"}
    return {} if res.has_status else None


def prepare_create(res: Resource, body: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """The object to store for a create, from the request body and the URL's namespace."""
    obj = copy.deepcopy(body)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    if res.namespaced:
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_namespace()
        meta["namespace"] = meta.get("namespace") or namespace or "default"
    else:
        meta.pop("namespace", None)
    if meta.get("resourceVersion"):
        # the real storage layer's plain Go error: a 500 without a reason
        raise ApiError(500, "resourceVersion should not be set on objects to be created", reason="")
    if not meta.get("name"):
        if not meta.get("generateName"):
            raise invalid(
                res, "", "metadata.name", "Required value: name or generateName is required"
            )
        meta["name"] = generate_name(meta["generateName"])
    for key in (*_SERVER_META, *_DROPPED_META):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    if res.generation:
        meta["generation"] = 1
    _validate_meta(res, meta)
    _normalize_data(res, obj)
    _apply_defaults(res, obj)
    status = _initial_status(res)
    if status is not None:
        obj["status"] = status
    return _ordered(obj)


def _check_immutable(res: Resource, new: dict[str, Any], old: dict[str, Any]) -> None:
    if res.kind not in ("ConfigMap", "Secret") or not old.get("immutable"):
        return
    name = old["metadata"]["name"]
    for field in ("data", "binaryData", "immutable"):
        if new.get(field) != old.get(field):
            raise invalid(res, name, field, "Forbidden: field is immutable when `immutable` is set")


def prepare_update(
    res: Resource, body: dict[str, Any], old: dict[str, Any], *, status_only: bool
) -> dict[str, Any]:
    """The object to store for an update of `old`; equal to `old` when nothing changes."""
    if status_only:
        obj = copy.deepcopy(old)
        if "status" in body:
            obj["status"] = copy.deepcopy(body["status"])
        return obj
    obj = copy.deepcopy(body)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    old_meta = old["metadata"]
    for key in _DROPPED_META:
        meta.pop(key, None)
    for key in (*_SERVER_META, "namespace", "resourceVersion"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    _validate_meta(res, meta)
    _normalize_data(res, obj)
    _apply_defaults(res, obj)
    if res.has_status:
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)
    _check_immutable(res, obj, old)
    if res.generation and (
        obj.get("spec") != old.get("spec")
        or (res.kind == "Deployment" and meta.get("annotations") != old_meta.get("annotations"))
    ):
        meta["generation"] = old_meta.get("generation", 0) + 1
    return _ordered(obj)

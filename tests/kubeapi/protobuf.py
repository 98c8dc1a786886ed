"""Decoding the protobuf request bodies kubectl sends for some built-in types.

kubectl's typed clients (`kubectl create configmap|secret|namespace`) send
`application/vnd.kubernetes.protobuf`: the magic `k8s\\0`, then a runtime.Unknown envelope
whose `raw` is the object in the field numbers of k8s.io/api's generated.proto. Only the types
those commands send are known here; anything else is answered 415, as a server without
protobuf would.
"""

from __future__ import annotations

import base64
from typing import Any

from kubeapi.status import ApiError

MAGIC = b"k8s\x00"

# message -> field number -> (json name, type); types: str, bytes, int, bool, a message name,
# "map" (string->string), "bmap" (string->bytes as base64), "[str]" (repeated string).
_Schema = dict[int, tuple[str, str]]
SCHEMAS: dict[str, _Schema] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes"), 4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        6: ("resourceVersion", "str"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        14: ("finalizers", "[str]"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "[str]")},
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: an int for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _message(data: bytes, schema: str) -> dict[str, Any]:
    fields = SCHEMAS[schema]
    obj: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in fields:
            continue
        name, kind = fields[number]
        if kind in ("map", "bmap") and isinstance(value, bytes):
            entry = {n: v for n, v in _fields(value)}
            key, item = entry.get(1, b""), entry.get(2, b"")
            if isinstance(key, bytes) and isinstance(item, bytes):
                text = base64.b64encode(item).decode() if kind == "bmap" else item.decode()
                obj.setdefault(name, {})[key.decode()] = text
        elif kind == "[str]" and isinstance(value, bytes):
            obj.setdefault(name, []).append(value.decode())
        elif kind == "str" and isinstance(value, bytes):
            if value:  # proto2 sends empty strings that JSON (omitempty) leaves out
                obj[name] = value.decode()
        elif kind == "bytes":
            obj[name] = value
        elif kind == "bool":
            obj[name] = bool(value)
        elif isinstance(value, bytes):
            obj[name] = _message(value, kind)
    return obj


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; 415 for a type this module does not know."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "protobuf body without the k8s magic prefix")
    try:
        envelope = _message(body[len(MAGIC) :], "Unknown")
        type_meta = envelope.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in SCHEMAS or kind in ("Unknown", "TypeMeta", "ObjectMeta"):
            raise ApiError(
                415,
                f"the test API server decodes protobuf only for ConfigMap, Secret and Namespace, "
                f"not {kind!r}; send application/json",
            )
        obj = _message(envelope.get("raw", b""), kind)
    except ValueError as exc:
        raise ApiError(400, f"invalid protobuf body: {exc}") from exc
    return {"kind": kind, "apiVersion": type_meta.get("apiVersion", ""), **obj}

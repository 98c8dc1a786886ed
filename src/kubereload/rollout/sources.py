"""ConfigMaps and Secrets reduced to digests: the controller never keeps their data.

A key's digest covers its name and value; an object's digest covers its key digests. Per-key
digests are kept only for objects that a workload filters by ``kubereload.io/keys``; every
other object costs one 16-byte digest and its two annotation flags.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubereload.rollout.annotations import NO_FLAGS, SourceFlags, parse_source_flags
from kubereload.rollout.refs import Kind

ObjRef = tuple[str, Kind, str]
"""(namespace, kind, name) of a ConfigMap or Secret."""


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        # Never show the value: it may be a Secret's.
        raise ValueError(f"{where}: value is not valid base64") from exc


def values(kind: Kind, obj: Mapping[str, Any]) -> dict[str, bytes]:
    """The decoded bytes of each key, as a pod would see them in a volume."""
    out: dict[str, bytes] = {}
    data = obj.get("data") or {}
    if kind == "ConfigMap":
        for key, value in data.items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = _b64(str(value), f"binaryData key {key!r}")
    else:
        for key, value in data.items():
            out[key] = _b64(str(value), f"data key {key!r}")
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    return out


def key_digest(key: str, value: bytes) -> bytes:
    return hashlib.sha256(key.encode() + b"\0" + value).digest()[:16]


def object_digest(key_digests: Mapping[str, bytes]) -> bytes:
    h = hashlib.sha256()
    for key in sorted(key_digests):
        h.update(key.encode() + b"\0" + key_digests[key])
    return h.digest()[:16]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What is kept of one ConfigMap/Secret."""

    digest: bytes
    flags: SourceFlags = NO_FLAGS
    keys: Mapping[str, bytes] | None = None


def summarize(kind: Kind, obj: Mapping[str, Any], *, with_keys: bool = False) -> SourceState:
    """Reduce an object to its digest (and per-key digests when asked); drops the data.

    Raises ValueError (without any value in it) when base64 data is malformed.
    """
    digests = {key: key_digest(key, value) for key, value in values(kind, obj).items()}
    meta = obj.get("metadata") or {}
    flags = parse_source_flags(meta.get("annotations") or {})
    return SourceState(object_digest(digests), flags, digests if with_keys else None)


def obj_ref(kind: Kind, obj: Mapping[str, Any]) -> ObjRef:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), kind, str(meta.get("name", "")))


class SourceStore:
    """Digests of every ConfigMap/Secret seen, and which ones need per-key digests."""

    def __init__(self) -> None:
        self._states: dict[ObjRef, SourceState] = {}
        self._keyed: Counter[ObjRef] = Counter()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, ref: ObjRef) -> SourceState | None:
        return self._states.get(ref)

    def wants_keys(self, ref: ObjRef) -> bool:
        return self._keyed[ref] > 0

    def put(self, kind: Kind, obj: Mapping[str, Any]) -> tuple[ObjRef, bool]:
        """Store an added or modified object; returns its ref and whether anything that counts
        (content or flags) changed since the last version seen."""
        ref = obj_ref(kind, obj)
        return ref, self.set(ref, summarize(kind, obj, with_keys=self.wants_keys(ref)))

    def set(self, ref: ObjRef, state: SourceState) -> bool:
        """Store an object already summarized (an informer's transform does that)."""
        old = self._states.get(ref)
        self._states[ref] = state
        return old is None or old.digest != state.digest or old.flags != state.flags

    def delete(self, ref: ObjRef) -> bool:
        """Forget a deleted object; whether it was known."""
        return self._states.pop(ref, None) is not None

    def keep_keys(self, ref: ObjRef) -> bool:
        """One more workload filters this object by key; True when its per-key digests are
        missing and the object must be read again (``put``) to get them."""
        self._keyed[ref] += 1
        state = self._states.get(ref)
        return state is not None and state.keys is None

    def drop_keys(self, ref: ObjRef) -> None:
        """One workload less filters this object by key; drop per-key digests when none is left."""
        self._keyed[ref] -= 1
        if self._keyed[ref] <= 0:
            del self._keyed[ref]
            state = self._states.get(ref)
            if state is not None and state.keys is not None:
                self._states[ref] = SourceState(state.digest, state.flags)

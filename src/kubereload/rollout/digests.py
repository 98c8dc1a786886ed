"""ConfigMaps and Secrets reduced to digests: the controller never keeps their data.

A key's digest covers its name and value; an object's digest covers its key digests. Per-key
digests are kept only for objects that a workload filters by ``kubereload.io/keys``; every
other object costs one 16-byte digest and its two annotation flags.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubereload.kube.data import DataKind, DecodedData, decode_data
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.annotations import (
    DEFAULT_READING,
    NO_FLAGS,
    Reading,
    SourceFlags,
    parse_source_flags,
)

# What a key whose base64 does not decode counts as: a fix of the value then changes the digest.
_INVALID = b"\xff(invalid base64)"


def key_digest(key: str, value: bytes) -> bytes:
    return hashlib.sha256(key.encode() + b"\0" + value).digest()[:16]


def object_digest(key_digests: Mapping[str, bytes]) -> bytes:
    h = hashlib.sha256()
    for key in sorted(key_digests):
        h.update(key.encode() + b"\0" + key_digests[key])
    return h.digest()[:16]


@dataclass(frozen=True, slots=True)
class ObjectDigest:
    """What is kept of one ConfigMap/Secret."""

    digest: bytes
    flags: SourceFlags = NO_FLAGS
    keys: Mapping[str, bytes] | None = None


def summarize(
    decoded: DecodedData,
    annotations: Mapping[str, Any],
    *,
    with_keys: bool = False,
    reading: Reading = DEFAULT_READING,
) -> ObjectDigest:
    """Reduce decoded data to its digest (and per-key digests when asked); drops the data."""
    digests = {key: key_digest(key, value) for key, value in decoded.values.items()}
    digests.update((key, key_digest(key, _INVALID)) for key in decoded.invalid)
    flags = parse_source_flags(annotations, reading)
    return ObjectDigest(object_digest(digests), flags, digests if with_keys else None)


def summarize_object(
    kind: DataKind,
    obj: Mapping[str, Any],
    *,
    with_keys: bool = False,
    reading: Reading = DEFAULT_READING,
) -> ObjectDigest:
    """``summarize`` straight from an API object (a key that does not decode counts as one
    invalid value, named by the decoder's ``problems``)."""
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return summarize(decode_data(kind, obj), annotations, with_keys=with_keys, reading=reading)


def data_ref(kind: DataKind, obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    namespace = sys.intern(str(meta.get("namespace", "")))  # one copy per namespace
    return ObjectRef(kind, namespace, str(meta.get("name", "")))


class DigestStore:
    """Digests of every ConfigMap/Secret seen, and which ones need per-key digests."""

    def __init__(self) -> None:
        self._states: dict[ObjectRef, ObjectDigest] = {}
        self._keyed: Counter[ObjectRef] = Counter()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, ref: ObjectRef) -> ObjectDigest | None:
        return self._states.get(ref)

    def wants_keys(self, ref: ObjectRef) -> bool:
        return self._keyed[ref] > 0

    def put(self, kind: DataKind, obj: Mapping[str, Any]) -> tuple[ObjectRef, bool]:
        """Store an added or modified object; returns its ref and whether anything that counts
        (content or flags) changed since the last version seen."""
        ref = data_ref(kind, obj)
        return ref, self.set(ref, summarize_object(kind, obj, with_keys=self.wants_keys(ref)))

    def set(self, ref: ObjectRef, state: ObjectDigest) -> bool:
        """Store an object already summarized (an informer's transform does that)."""
        old = self._states.get(ref)
        self._states[ref] = state
        return old is None or old.digest != state.digest or old.flags != state.flags

    def delete(self, ref: ObjectRef) -> bool:
        """Forget a deleted object; whether it was known."""
        return self._states.pop(ref, None) is not None

    def keep_keys(self, ref: ObjectRef) -> bool:
        """One more workload filters this object by key; True when its per-key digests are
        missing and the object must be read again (``put``) to get them."""
        self._keyed[ref] += 1
        state = self._states.get(ref)
        return state is not None and state.keys is None

    def drop_keys(self, ref: ObjectRef) -> None:
        """One workload less filters this object by key; drop per-key digests when none is left."""
        self._keyed[ref] -= 1
        if self._keyed[ref] <= 0:
            del self._keyed[ref]
            state = self._states.get(ref)
            if state is not None and state.keys is not None:
                self._states[ref] = ObjectDigest(state.digest, state.flags)

"""What sync keeps of a ConfigMap or Secret: its keys and their decoded bytes, nothing else."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from kubereload.kube.data import DataKind, decode_data


class ObjectFiles:
    """The files one object projects: key -> bytes, and a digest of them.

    Equal digests mean equal files, so the informer can tell a real change from a metadata-only
    one. ``release()`` drops the bytes once they are on disk: with thousands of objects synced,
    memory then holds a digest per object, not every value (``files`` is empty afterwards).
    ``undecodable`` lists keys whose base64 value was invalid (left out; reported by name).
    """

    __slots__ = ("digest", "files", "undecodable")

    def __init__(self, files: Mapping[str, bytes], undecodable: tuple[str, ...] = ()) -> None:
        self.files: Mapping[str, bytes] = files
        self.undecodable = undecodable
        digest = hashlib.blake2b(digest_size=16)
        for key in sorted(files):
            value = files[key]
            digest.update(b"%d:%s%d:" % (len(key), key.encode(), len(value)))
            digest.update(value)
        for key in undecodable:
            digest.update(b"!" + key.encode())
        self.digest = digest.digest()

    def release(self) -> None:
        self.files = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectFiles) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:  # never the values
        return f"ObjectFiles(keys={sorted(self.files)}, digest={self.digest.hex()})"


def object_files(kind: DataKind, obj: Mapping[str, Any]) -> ObjectFiles:
    """The files the kubelet would project for the object (see ``kube.data.decode_data``)."""
    decoded = decode_data(kind, obj)
    return ObjectFiles(decoded.values, decoded.invalid)

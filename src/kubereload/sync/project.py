"""From an object's keys to the files written: ``--items`` remapping, modes, and path safety.

A key whose path is unsafe is refused on its own, with the reason; the object's other keys are
still written. Unsafe means what the kubelet refuses (absolute, ``..``, a leading ``..``), two
paths that would need the same name as both file and directory, or a top-level name already
taken in the target directory by something that is not one of our ``..data`` links (a symlink
or directory put there by someone else would let a key write or be read through it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubereload.volume import DATA_DIR_NAME, FileProjection, UnsafePathError, validate_path


@dataclass(frozen=True)
class Projection:
    """The payload to hand to the AtomicWriter, and the keys refused with their reason."""

    payload: dict[str, FileProjection]
    refused: tuple[str, ...]


def parse_items(values: list[str]) -> dict[str, str]:
    """``KEY=PATH`` pairs from ``--items`` (the path is validated when writing)."""
    items: dict[str, str] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise ValueError(f"--items {value!r}: expected KEY=PATH")
        items[key] = path
    return items


def project(
    files: Mapping[str, bytes],
    target_dir: Path,
    *,
    items: Mapping[str, str] | None = None,
    mode: int = 0o644,
) -> Projection:
    refused: list[str] = []
    wanted: list[tuple[str, str]] = []  # (key, path)
    if items:
        for key, path in items.items():
            if key in files:
                wanted.append((key, path))
            else:
                refused.append(f"key {key!r} named in --items is not in the object")
    else:
        wanted = [(key, key) for key in sorted(files)]

    payload: dict[str, FileProjection] = {}
    dirs: set[str] = set()  # every directory prefix of an accepted path
    for key, raw_path in wanted:
        try:
            path = validate_path(raw_path)
        except UnsafePathError as err:
            refused.append(f"key {key!r}: {err}")
            continue
        parents = _parents(path)
        problem = _taken(target_dir, path)
        if path in payload:
            problem = "is already used by another key"
        elif path in dirs or any(parent in payload for parent in parents):
            problem = "would be both a file and a directory"
        if problem:
            refused.append(f"key {key!r}: path {path!r} {problem}")
            continue
        payload[path] = FileProjection(files[key], mode)
        dirs.update(parents)
    return Projection(payload, tuple(refused))


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _taken(target_dir: Path, path: str) -> str | None:
    """A top-level entry that exists and is not our own ``..data/<top>`` link."""
    top = path.split("/", maxsplit=1)[0]
    entry = target_dir / top
    if not os.path.lexists(entry):
        return None
    if entry.is_symlink() and os.readlink(entry) == f"{DATA_DIR_NAME}/{top}":
        return None
    what = "a symlink" if entry.is_symlink() else "a directory" if entry.is_dir() else "a file"
    return f"is refused: {entry} is {what} not written by kubereload"

"""Reading one consistent version of a volume, file or directory.

A kubelet volume is read through the resolved ``..data`` target once, and accepted only if
``..data`` still points there afterwards: the kubelet never changes a published directory, it only
deletes old ones, so an unchanged target means every byte came from one version.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from kubereload.volume.atomic_writer import DATA_DIR
from kubereload.volume.layout import Layout, detect_layout

# Editors and tools leave these beside real files in a plain directory; they are not config.
_EDITOR_LEFTOVERS = (".swp", ".swx", ".swo", "~", ".tmp", ".bak")
_MAX_RETRIES = 100


class SnapshotError(OSError):
    """The source could not be read (missing, unreadable, or a key vanished from the payload)."""


@dataclass(frozen=True)
class Snapshot:
    """One version of a source: an id and the files' bytes, keyed by path relative to the source.

    For a single watched file the mapping has one entry, named after the file.
    """

    version: str
    files: Mapping[str, bytes] = field(repr=False)
    layout: Layout

    def same_content(self, other: Snapshot | None) -> bool:
        return other is not None and dict(self.files) == dict(other.files)


def content_version(files: Mapping[str, bytes]) -> str:
    """A stable id for content that has no kubelet version: a hash over names and bytes."""
    import hashlib  # noqa: PLC0415 - loads OpenSSL; kubelet volumes never need it

    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return "sha256:" + digest.hexdigest()[:16]


def is_editor_leftover(name: str) -> bool:
    """Swap, backup and temp files that editors leave beside the real ones."""
    return name.endswith(_EDITOR_LEFTOVERS) or (name.startswith(".#"))


def _read_tree(root: Path, *, plain: bool = False) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".."))
        for name in sorted(filenames):
            if name.startswith("..") or (plain and is_editor_leftover(name)):
                continue
            full = Path(dirpath) / name
            files[full.relative_to(root).as_posix()] = full.read_bytes()
    return files


def _read_kubelet(source: Path, only: str | None) -> Snapshot:
    volume = os.fspath(source if only is None else source.parent)
    data_link = os.path.join(volume, DATA_DIR)
    for _ in range(_MAX_RETRIES):
        try:
            target = os.readlink(data_link)
        except FileNotFoundError as exc:
            raise SnapshotError(f"{volume}: {DATA_DIR} is gone") from exc
        root = os.path.join(volume, target)
        try:
            if only is None:
                files = _read_tree(Path(root))
            else:
                with open(os.path.join(root, only), "rb") as handle:
                    files = {only: handle.read()}
        except FileNotFoundError:
            if only is not None and os.readlink(data_link) == target:
                raise SnapshotError(f"{source}: no such key in the volume") from None
            continue  # the writer removed this version while we read it: read the new one
        if os.readlink(data_link) == target:
            return Snapshot(target, MappingProxyType(files), Layout.KUBELET)
    raise SnapshotError(f"{volume}: {DATA_DIR} kept changing while being read")


def read_snapshot(source: Path) -> Snapshot:
    """Read the current version of ``source`` (a file or a directory)."""
    try:
        layout = detect_layout(source)
    except FileNotFoundError as exc:
        raise SnapshotError(str(exc)) from exc
    try:
        if layout is Layout.KUBELET:
            return _read_kubelet(source, None if source.is_dir() else source.name)
        if layout is Layout.DIRECTORY:
            files = _read_tree(source, plain=True)
        else:
            files = {source.name: source.read_bytes()}
    except SnapshotError:
        raise
    except OSError as exc:
        raise SnapshotError(f"{source}: {exc.strerror or exc}") from exc
    return Snapshot(content_version(files), MappingProxyType(files), layout)

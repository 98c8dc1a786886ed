"""Reading one consistent version of a volume, file or directory, and nothing outside it.

A kubelet volume is read through the resolved ``..data`` target once, and accepted only if
``..data`` still points there afterwards: the kubelet never changes a published directory, it only
deletes old ones, so an unchanged target means every byte came from one version.

Volume contents are not trusted. Files are opened relative to their directory's descriptor with
``O_NOFOLLOW``, so a key that is a symbolic link (to ``/etc/shadow``, say) is never followed
inside a kubelet volume, and in a plain directory only when it resolves to a file inside that
directory. Only regular files and directories are read (a FIFO would block, a device would
never end), and sizes are checked with ``fstat`` before reading and bounded while reading.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from kubereload.volume.atomic_writer import DATA_DIR
from kubereload.volume.layout import Layout, detect_layout
from kubereload.volume.paths import printable

# Editors and tools leave these beside real files in a plain directory; they are not config.
_EDITOR_LEFTOVERS = (".swp", ".swx", ".swo", "~", ".tmp", ".bak")
_MAX_RETRIES = 100
_MiB = 1024 * 1024
# O_NONBLOCK: opening a FIFO planted as a key must not block the watcher.
_OPEN_ENTRY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_VOLUME = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC  # the path given may be a link

Expect = Literal["file", "directory"] | None
SnapshotKind = Literal["unreadable", "too-large", "outside-volume", "not-a-file"]


class SnapshotError(OSError):
    """The source could not be read: missing, unreadable, too large, or not what it should be.

    ``kind`` says which: ``unreadable``, ``too-large``, ``outside-volume`` (a link that leaves
    the volume, or any link inside a kubelet volume's data) or ``not-a-file`` (a directory where
    a file was expected, or the reverse, or a FIFO, socket or device).
    """

    def __init__(self, message: str, kind: SnapshotKind = "unreadable") -> None:
        super().__init__(message)
        self.kind: SnapshotKind = kind


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on one read: bytes per file, bytes and entries (files and folders) in all."""

    max_file_bytes: int = 1 * _MiB
    max_volume_bytes: int = 8 * _MiB
    max_files: int = 4096


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


class _Budget:
    """Counts what one read has taken, and refuses what would pass the limits."""

    def __init__(self, limits: ReadLimits, where: str) -> None:
        self.limits = limits
        self.where = where
        self.entries = 0
        self.bytes = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise SnapshotError(
                f"{self.where}: more than {self.limits.max_files} files and folders "
                "(the limit max_files)",
                "too-large",
            )

    def file(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise SnapshotError(
                f"{name}: {size} bytes, over the limit of {self.limits.max_file_bytes} "
                "(max_file_bytes)",
                "too-large",
            )
        self.bytes += size
        if self.bytes > self.limits.max_volume_bytes:
            raise SnapshotError(
                f"{self.where}: more than {self.limits.max_volume_bytes} bytes in all "
                "(the limit max_volume_bytes)",
                "too-large",
            )


def _read_open_file(
    fd: int, name: str, st: os.stat_result, budget: _Budget, *, immutable: bool = False
) -> bytes:
    """The bytes of an open file, checked against the budget before and while reading.

    ``immutable``: a kubelet version's file, never written again, so a short read is its end
    (one ``read`` for a small key instead of two).
    """
    if not stat.S_ISREG(st.st_mode):
        raise SnapshotError(f"{name}: not a regular file", "not-a-file")
    budget.file(name, st.st_size)
    cap = budget.limits.max_file_bytes
    chunks: list[bytes] = []
    total = 0
    while True:  # a file that grows while it is read is bounded all the same
        want = min(max(st.st_size - total, 0), cap) + 65536
        chunk = os.read(fd, want)
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            raise SnapshotError(
                f"{name}: over the limit of {cap} bytes (max_file_bytes)", "too-large"
            )
        chunks.append(chunk)
        if immutable and len(chunk) < want:
            break
    if total > st.st_size:
        budget.file(name, total - st.st_size)
    return b"".join(chunks)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _read_tree(root_fd: int, budget: _Budget, *, plain_root: str | None) -> dict[str, bytes]:
    """Every regular file under the directory ``root_fd``, keyed by its relative path.

    ``plain_root`` is the real path of a plain directory: there a symbolic link to a file inside
    it is read. In a kubelet volume's data (``plain_root`` None) no link is ever followed: the
    kubelet writes regular files and directories only.
    """
    files: dict[str, bytes] = {}
    pending: list[tuple[str, int]] = []  # sub-directories found, open, not read yet
    prefix, dir_fd = "", root_fd
    try:
        while True:
            try:
                with os.scandir(dir_fd) as entries:
                    names = sorted(entry.name for entry in entries)
                for name in names:
                    if name.startswith("..") or (
                        plain_root is not None and is_editor_leftover(name)
                    ):
                        continue
                    rel = prefix + name
                    shown = printable(rel)
                    budget.entry()
                    fd, via_link = _open_entry(name, dir_fd, rel, plain_root)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISDIR(st.st_mode):
                            if via_link:
                                raise SnapshotError(
                                    f"{shown}: a symbolic link to a directory; not followed",
                                    "not-a-file",
                                )
                            pending.append((rel + "/", fd))
                            fd = -1  # now pending's to close
                            continue
                        files[rel] = _read_open_file(
                            fd, shown, st, budget, immutable=plain_root is None
                        )
                    finally:
                        if fd >= 0:
                            os.close(fd)
            finally:
                if dir_fd != root_fd:  # the caller's own is the caller's to close
                    os.close(dir_fd)
            if not pending:
                break
            prefix, dir_fd = pending.pop()
    finally:
        for _prefix, fd in pending:
            os.close(fd)
    return dict(sorted(files.items()))


def _open_entry(name: str, dir_fd: int, rel: str, plain_root: str | None) -> tuple[int, bool]:
    """Open one entry without following a link; (fd, whether it was reached through a link)."""
    try:
        return os.open(name, _OPEN_ENTRY, dir_fd=dir_fd), False
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    if plain_root is None:
        raise SnapshotError(
            f"{printable(rel)}: a symbolic link inside the volume's data; not followed",
            "outside-volume",
        )
    real = os.path.realpath(os.path.join(plain_root, rel))
    if not _inside(real, plain_root):
        raise SnapshotError(
            f"{printable(rel)}: a symbolic link that leads outside {plain_root}; not followed",
            "outside-volume",
        )
    return os.open(real, _OPEN_ENTRY), True


def _check_data_target(volume: str, target: str) -> None:
    # The kubelet's targets are "..<timestamp>" entries of the volume itself.
    if "/" in target or not target.startswith("..") or target in ("..", DATA_DIR):
        raise SnapshotError(
            f"{volume}: {DATA_DIR} points outside the volume; not followed", "outside-volume"
        )


def _read_kubelet(source: Path, only: str | None, limits: ReadLimits) -> Snapshot:
    volume = os.fspath(source if only is None else source.parent)
    volume_fd = os.open(volume, _OPEN_VOLUME)
    try:
        return _read_kubelet_at(volume_fd, volume, source, only, limits, target=None)
    finally:
        os.close(volume_fd)


def _read_kubelet_at(
    volume_fd: int,
    volume: str,
    source: Path,
    only: str | None,
    limits: ReadLimits,
    *,
    target: str | None,
) -> Snapshot:
    """The version ``..data`` points to (``target`` if already read), read through it."""
    for _ in range(_MAX_RETRIES):
        if target is None:
            try:
                target = os.readlink(DATA_DIR, dir_fd=volume_fd)
            except FileNotFoundError:
                raise SnapshotError(f"{volume}: {DATA_DIR} is gone") from None
        _check_data_target(volume, target)
        budget = _Budget(limits, volume)
        try:
            files = _read_version(volume_fd, target, only, budget)
        except FileNotFoundError:
            if only is not None and os.readlink(DATA_DIR, dir_fd=volume_fd) == target:
                raise SnapshotError(f"{source}: no such key in the volume") from None
            target = None
            continue  # the writer removed this version while we read it: read the new one
        if os.readlink(DATA_DIR, dir_fd=volume_fd) == target:
            return Snapshot(target, MappingProxyType(files), Layout.KUBELET)
        target = None
    raise SnapshotError(f"{volume}: {DATA_DIR} kept changing while being read")


def _read_version(
    volume_fd: int, target: str, only: str | None, budget: _Budget
) -> dict[str, bytes]:
    try:
        data_fd = os.open(target, _OPEN_DIR, dir_fd=volume_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SnapshotError(
                f"{budget.where}: {DATA_DIR} does not point to a directory of the volume",
                "outside-volume",
            ) from None
        raise
    try:
        if only is None:
            return _read_tree(data_fd, budget, plain_root=None)
        budget.entry()
        fd, _ = _open_entry(only, data_fd, only, None)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise SnapshotError(
                    f"{only}: a directory in the volume, but this watch is of one file "
                    "(watch the volume's directory to read it as a mapping)",
                    "not-a-file",
                )
            return {only: _read_open_file(fd, only, st, budget, immutable=True)}
        finally:
            os.close(fd)
    finally:
        os.close(data_fd)


def _read_plain_directory(source: Path, budget: _Budget) -> dict[str, bytes]:
    root = os.path.realpath(source)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _read_tree(root_fd, budget, plain_root=root)
    finally:
        os.close(root_fd)


def _read_plain_file(source: Path, budget: _Budget) -> bytes:
    """The path given is the caller's; a link there may go anywhere inside its own directory."""
    name = os.fspath(source)
    if os.path.islink(name):
        real = os.path.realpath(name)
        if not _inside(real, os.path.realpath(os.path.dirname(name) or ".")):
            raise SnapshotError(
                f"{source}: a symbolic link that leads outside its directory; not followed "
                "(point kubereload at the file itself)",
                "outside-volume",
            )
        name = real
    budget.entry()
    fd = os.open(name, _OPEN_ENTRY)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SnapshotError(
                f"{source}: a directory, but this watch is of one file", "not-a-file"
            )
        return _read_open_file(fd, source.name, st, budget)
    finally:
        os.close(fd)


def read_snapshot(
    source: Path, limits: ReadLimits | None = None, *, expect: Expect = None
) -> Snapshot:
    """Read the current version of ``source`` (a file or a directory).

    ``expect`` fixes what the source must be: a watch of one file refuses a directory that
    replaced it (and the reverse) rather than serving a mapping where a document was expected.
    """
    limits = limits or ReadLimits()
    kubelet = _read_kubelet_directory(source, limits, expect)
    if kubelet is not None:
        return kubelet
    try:
        layout = detect_layout(source)
    except FileNotFoundError as exc:
        raise SnapshotError(str(exc)) from None
    is_dir = os.path.isdir(source)
    if expect == "file" and is_dir:
        raise SnapshotError(
            f"{source}: a directory, but this watch is of one file "
            "(watch a directory to read its files as a mapping)",
            "not-a-file",
        )
    if expect == "directory" and not is_dir:
        raise SnapshotError(f"{source}: not a directory, but this watch is of one", "not-a-file")
    try:
        if layout is Layout.KUBELET:
            return _read_kubelet(source, None if is_dir else source.name, limits)
        budget = _Budget(limits, os.fspath(source))
        if layout is Layout.DIRECTORY:
            files = _read_plain_directory(source, budget)
        else:
            files = {source.name: _read_plain_file(source, budget)}
    except SnapshotError:
        raise
    except OSError as exc:
        raise SnapshotError(f"{source}: {exc.strerror or type(exc).__name__}") from None
    return Snapshot(content_version(files), MappingProxyType(files), layout)


def _read_kubelet_directory(source: Path, limits: ReadLimits, expect: Expect) -> Snapshot | None:
    """The common case in a few system calls: a kubelet volume's directory, told by opening it
    and reading its ``..data`` link (which the read needs anyway); None if it is not one."""
    try:
        volume_fd = os.open(source, _OPEN_VOLUME)
    except OSError:
        return None
    try:
        try:
            target = os.readlink(DATA_DIR, dir_fd=volume_fd)
        except OSError:
            return None  # no ..data link: a plain directory (or unreadable: said below)
        if expect == "file":
            raise SnapshotError(
                f"{source}: a directory, but this watch is of one file "
                "(watch a directory to read its files as a mapping)",
                "not-a-file",
            )
        return _read_kubelet_at(volume_fd, os.fspath(source), source, None, limits, target=target)
    except SnapshotError:
        raise
    except OSError as exc:
        raise SnapshotError(f"{source}: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(volume_fd)

"""Where a ``Config`` gets its versions: the interface, and the mounted file or directory.

A source reads the current :class:`~kubereload.volume.Snapshot` on demand and, once started,
reports every later one from its own thread. The file source below is a mounted path watched by
:class:`~kubereload.watch.Detector`; the API source (a ConfigMap or Secret read straight from the
API server) lives above ``kube`` in :mod:`kubereload.apisource` and meets the same interface.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from kubereload.config.limits import DEFAULT_LIMITS, Limits
from kubereload.volume import DATA_DIR_NAME, Layout, Snapshot, SnapshotError, read_snapshot
from kubereload.volume.layout import subpath_warning
from kubereload.volume.snapshot import Expect
from kubereload.watch import Detector

log = logging.getLogger(__name__)

OnSnapshot = Callable[[Snapshot], None]
OnUnreadable = Callable[[SnapshotError | None], None]
"""Called with why the source is unreadable, and with None once it is readable again."""

_subpath_warned: set[Path] = set()


class Source(Protocol):
    """What ``Config`` needs of a source. ``str(source)`` names it in logs and errors."""

    @property
    def mode(self) -> str:
        """How changes are detected (``"inotify"``, ``"poll"``, ``"api-watch"``)."""
        ...

    def read(self) -> Snapshot:
        """The current version, or :class:`SnapshotError` saying why there is none."""
        ...

    def start(
        self, initial: Snapshot | None, on_snapshot: OnSnapshot, on_unreadable: OnUnreadable
    ) -> None:
        """Report each version newer than ``initial`` (None: any) until :meth:`close`."""
        ...

    def problem(self) -> str | None:
        """Why the source cannot currently deliver updates (None when it can)."""
        ...

    def close(self) -> None:
        """Stop; nothing of the source keeps running afterwards."""
        ...


class FileSource:
    """A mounted file or directory: inotify on its directory, or polling.

    The detector is armed when this object is created, before the first :meth:`read`, so a
    change in between is never missed. Every read stays inside the volume and within
    ``limits`` (see :func:`~kubereload.volume.read_snapshot`). Whether the path is one file or
    a directory is fixed the first time it is seen: a file that turns into a directory (or the
    reverse) is an error, not a new shape of config for code that expects the old one.
    """

    def __init__(
        self,
        path: Path,
        *,
        poll: bool = False,
        poll_interval: float = 1.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.path = path
        self.limits = limits
        self._expect: Expect = _shape(path)
        self._on_snapshot: OnSnapshot | None = None
        self._on_unreadable: OnUnreadable | None = None
        self._detector = Detector(
            path,
            self._snapshot,
            self._unreadable,
            poll=poll,
            poll_interval=poll_interval,
            read=self._read,
        )

    @property
    def mode(self) -> str:
        return self._detector.mode

    def is_directory(self) -> bool:
        """Whether versions are a directory's files (a mapping) rather than one file."""
        if self._expect is None:  # not seen yet: a watched path may appear later
            return self.path.is_dir()
        return self._expect == "directory"

    def read(self) -> Snapshot:
        snapshot = self._read()
        self._warn_if_subpath(snapshot)
        return snapshot

    def _read(self) -> Snapshot:
        snapshot = read_snapshot(self.path, self.limits.for_reading(), expect=self._expect)
        if self._expect is None:
            self._expect = "directory" if self.path.is_dir() else "file"
        return snapshot

    def start(
        self, initial: Snapshot | None, on_snapshot: OnSnapshot, on_unreadable: OnUnreadable
    ) -> None:
        self._on_snapshot, self._on_unreadable = on_snapshot, on_unreadable
        self._detector.start(initial)

    def problem(self) -> str | None:
        return None  # a mounted path has no connection to lose; unreadable versions are errors

    def close(self) -> None:
        self._detector.close()

    def __str__(self) -> str:
        return str(self.path)

    def _snapshot(self, snapshot: Snapshot) -> None:
        self._warn_if_subpath(snapshot)
        assert self._on_snapshot is not None
        self._on_snapshot(snapshot)

    def _unreadable(self, exc: SnapshotError) -> None:
        assert self._on_unreadable is not None
        self._on_unreadable(exc)

    def _warn_if_subpath(self, snapshot: Snapshot) -> None:
        if snapshot.layout is Layout.SUBPATH and self.path not in _subpath_warned:
            _subpath_warned.add(self.path)
            log.warning("%s", subpath_warning(self.path))


def _shape(path: Path) -> Expect:
    """What the path is now, if it exists: a directory, or one file (a kubelet key included)."""
    if path.is_dir():
        return "directory"
    if os.path.lexists(path) or os.path.islink(path.parent / DATA_DIR_NAME):
        return "file"
    return None


__all__ = ["FileSource", "OnSnapshot", "OnUnreadable", "Source"]

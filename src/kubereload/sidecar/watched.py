"""Watching several directories and files at once (``--dir``/``--file``): one Detector each,
all feeding one pipeline.

Readiness waits until every path has been read once; a path missing at start is reported once
and watched until it appears (its first appearance is a change, so it reloads). A subPath mount
is read, and warned about with the fix, in the library's words.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from kubereload.actions import ReloadPipeline
from kubereload.server import Telemetry
from kubereload.volume import Layout, Snapshot, SnapshotError, read_snapshot
from kubereload.volume.layout import subpath_warning
from kubereload.watch import Detector

log = logging.getLogger(__name__)


class WatchedPaths:
    """Detectors for ``paths`` feeding ``pipeline.submit``."""

    def __init__(
        self, paths: Sequence[Path], pipeline: ReloadPipeline, telemetry: Telemetry
    ) -> None:
        self.paths = list(paths)
        self.pipeline = pipeline
        self.telemetry = telemetry
        self._detectors: list[Detector] = []
        self._told: dict[str, str] = {}  # why each unread path cannot be read, as last logged
        self._lock = threading.Lock()
        self._unread = {str(path) for path in self.paths}
        self._update_ready()  # not ready before start: /readyz may be served already

    def start(self) -> None:
        for path in self.paths:
            name = str(path)
            detector = Detector(
                path,
                on_snapshot=functools.partial(self._changed, name),
                on_error=functools.partial(self._failed, name),
            )
            initial: Snapshot | None = None
            try:
                initial = read_snapshot(path)
                with self._lock:
                    self._unread.discard(name)
                self._update_ready()
                log.info(
                    "watching %s (%s, version %s, %d files, %s)",
                    name,
                    initial.layout.name.lower(),
                    initial.version,
                    len(initial.files),
                    detector.mode,
                    extra={"event": "watch", "source": name, "version": initial.version},
                )
                if initial.layout is Layout.SUBPATH:
                    log.warning(
                        "%s", subpath_warning(name), extra={"event": "subpath", "source": name}
                    )
            except SnapshotError as exc:
                self._tell_unread(name, exc)
            detector.start(initial)
            self._detectors.append(detector)

    def close(self) -> None:
        for detector in self._detectors:
            detector.close()

    def _changed(self, name: str, snapshot: Snapshot) -> None:
        log.info(
            "%s changed (version %s, %d files)",
            name,
            snapshot.version,
            len(snapshot.files),
            extra={"event": "change", "source": name, "version": snapshot.version},
        )
        with self._lock:
            self._unread.discard(name)
        self._update_ready()
        self.telemetry.watch_event(name)
        self.pipeline.submit(name, here=True)

    def _failed(self, name: str, exc: SnapshotError) -> None:
        self.telemetry.watcher_error(name)
        with self._lock:
            never_read = name in self._unread
        if never_read:
            self._tell_unread(name, exc)
        else:
            log.warning(
                "cannot read %s: %s (keeping the last good version)",
                name,
                exc,
                extra={"event": "unreadable", "source": name},
            )

    def _tell_unread(self, name: str, exc: SnapshotError) -> None:
        """Once per reason: a path not read yet has no last good version to keep."""
        reason = str(exc)
        if self._told.get(name) != reason:
            self._told[name] = reason
            log.warning(
                "cannot read %s yet (%s): not ready until it can be read",
                name,
                reason,
                extra={"event": "unreadable", "source": name},
            )

    def _update_ready(self) -> None:
        with self._lock:
            missing = sorted(self._unread)
        reason = f"not read yet: {', '.join(missing)}" if missing else None
        self.telemetry.health.set("ready", "sources", reason)

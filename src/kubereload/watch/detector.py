"""Change detection for a mounted file or directory: inotify on the directory, or polling.

The detector wakes on events only (no timers), turns a burst of events into one read, and reports
a snapshot only when content really changed: a ``touch``, an equal re-projection or the steps of
one kubelet update in progress produce nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import stat
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from kubereload.volume import DATA_DIR_NAME, Snapshot, SnapshotError, read_snapshot
from kubereload.volume.layout import is_remote
from kubereload.volume.snapshot import is_editor_leftover
from kubereload.watch import inotify
from kubereload.watch.inotify import Inotify, InotifyUnavailable

log = logging.getLogger(__name__)

_DIR_EVENTS = (
    inotify.IN_CLOSE_WRITE
    | inotify.IN_MOVED_TO
    | inotify.IN_MOVED_FROM
    | inotify.IN_CREATE
    | inotify.IN_DELETE
    | inotify.IN_DELETE_SELF
    | inotify.IN_MOVE_SELF
    | inotify.IN_ONLYDIR
)
# A kubelet volume publishes a version by one rename onto ..data: waking for its other steps
# (new directory, ..data_tmp, links, removals) would only cost CPU and delay the read.
_KUBELET_EVENTS = (
    inotify.IN_MOVED_TO | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF | inotify.IN_ONLYDIR
)
_ANCESTOR_EVENTS = (
    inotify.IN_CREATE
    | inotify.IN_MOVED_TO
    | inotify.IN_DELETE_SELF
    | inotify.IN_MOVE_SELF
    | inotify.IN_ONLYDIR
)

OnSnapshot = Callable[[Snapshot], None]
OnError = Callable[[SnapshotError], None]
Reader = Callable[[], Snapshot]
MAX_POLL_INTERVAL = 86400.0


def check_poll_interval(seconds: float) -> float:
    """``seconds`` if it is a usable poll interval, else ValueError (inf and NaN included)."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not 0 < seconds <= MAX_POLL_INTERVAL
    ):
        raise ValueError(
            f"poll_interval must be a number of seconds above 0 and at most {MAX_POLL_INTERVAL:g}"
        )
    return float(seconds)


def _stamp(source: Path) -> object:
    """A cheap fingerprint of the source's metadata, for polling: changes when content may have."""
    try:
        if source.is_dir():
            try:
                return os.readlink(source / DATA_DIR_NAME)
            except OSError:
                pass
            entries = []
            for dirpath, _dirs, files in os.walk(source):
                for name in files:
                    st = os.stat(os.path.join(dirpath, name))
                    entries.append((dirpath, name, st.st_mtime_ns, st.st_size, st.st_ino))
            return tuple(sorted(entries))
        if (source.parent / DATA_DIR_NAME).is_symlink():
            return os.readlink(source.parent / DATA_DIR_NAME)
        st = os.stat(source)
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    except OSError as exc:
        return ("missing", exc.errno)


class Detector:
    """Watches one source and calls ``on_snapshot`` (from its own thread) for each new content.

    Create it, read the initial snapshot, then ``start(initial)``: the watch is armed before the
    read, so a change in between is never missed.
    """

    def __init__(
        self,
        source: Path,
        on_snapshot: OnSnapshot,
        on_error: OnError,
        *,
        poll: bool = False,
        poll_interval: float = 1.0,
        read: Reader | None = None,
    ) -> None:
        poll_interval = check_poll_interval(poll_interval)
        self.source = source
        self._read: Reader = read or (lambda: read_snapshot(source))
        self._is_dir_source = source.is_dir()
        self._dir = source if self._is_dir_source else source.parent
        self._on_snapshot = on_snapshot
        self._on_error = on_error
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread: threading.Thread | None = None
        self._last: Snapshot | None = None
        self._inotify: Inotify | None = None
        self._main_wd: int | None = None
        self._ancestor_wd: int | None = None
        self._sub_wds: dict[int, Path] = {}
        self._kubelet_mask = False
        self.mode = "poll"
        try:
            if not poll:
                self._try_inotify()
            self._stamp = _stamp(source) if self.mode == "poll" else None
        except BaseException:
            self.close()  # no descriptor outlives a detector that failed to start
            raise

    # -- set-up -------------------------------------------------------------------------------

    def _try_inotify(self) -> None:
        if is_remote(self._dir):
            log.warning(
                "%s is on a network file system: polling every %.1fs instead of inotify",
                self._dir,
                self.poll_interval,
            )
            return
        try:
            self._inotify = Inotify()
            self._arm()
        except InotifyUnavailable as exc:
            log.warning(
                "inotify unavailable for %s (%s): polling every %.1fs instead",
                self.source,
                exc,
                self.poll_interval,
            )
            if self._inotify is not None:
                self._inotify.close()
            self._inotify = None
            return
        self.mode = "inotify"

    def _arm(self) -> bool:
        """Watch the source directory; while it does not exist, watch its nearest ancestor."""
        assert self._inotify is not None
        while True:
            if self._ancestor_wd is not None:
                self._inotify.rm_watch(self._ancestor_wd)
                self._ancestor_wd = None
            self._kubelet_mask = os.path.islink(os.path.join(self._dir, DATA_DIR_NAME))
            mask = _KUBELET_EVENTS if self._kubelet_mask else _DIR_EVENTS
            try:
                self._main_wd = self._inotify.add_watch(str(self._dir), mask)
            except (FileNotFoundError, NotADirectoryError):
                self._main_wd = None
            else:
                self._watch_subdirs(self._dir)
                return True
            ancestor = self._dir.parent
            while True:
                try:
                    self._ancestor_wd = self._inotify.add_watch(str(ancestor), _ANCESTOR_EVENTS)
                    break
                except (FileNotFoundError, NotADirectoryError):
                    if ancestor == ancestor.parent:
                        raise
                    ancestor = ancestor.parent
            if not self._dir.is_dir():
                return False  # else it appeared while we armed the ancestor: try again

    def _watch_subdirs(self, top: Path) -> None:
        """A plain directory may have sub-directories: watch those too (a kubelet one needs not)."""
        assert self._inotify is not None
        if not self._is_dir_source or (self._dir / DATA_DIR_NAME).is_symlink():
            return
        for dirpath, dirnames, _files in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith("..")]
            for name in dirnames:
                path = Path(dirpath) / name
                try:
                    self._sub_wds[self._inotify.add_watch(str(path), _DIR_EVENTS)] = path
                except (FileNotFoundError, NotADirectoryError):
                    continue

    # -- life cycle -----------------------------------------------------------------------------

    def start(self, initial: Snapshot | None) -> None:
        self._last = initial
        self._thread = threading.Thread(
            target=self._run, name=f"kubereload-watch:{self.source}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._inotify is not None:
            self._inotify.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _run(self) -> None:
        try:
            if self.mode == "inotify":
                self._run_inotify()
            else:
                self._run_poll()
        except BaseException as exc:  # a detector must never die silently (SystemExit included)
            # The exception's text is not logged: it may quote a config value.
            log.error(
                "watcher for %s failed (%s); falling back to polling",
                self.source,
                type(exc).__name__,
            )
            log.debug("where it failed:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
            if not self._stop.is_set():
                self.mode = "poll"
                self._stamp = _stamp(self.source)
                self._run_poll()

    # -- inotify --------------------------------------------------------------------------------

    def _run_inotify(self) -> None:
        assert self._inotify is not None
        poller = select.poll()
        poller.register(self._inotify.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        # Anything that happened between arming and start() is in the queue; a check settles it.
        self._check()
        while not self._stop.is_set():
            poller.poll()  # no timeout: an idle watch costs nothing
            if self._stop.is_set():
                return
            relevant, data_swap_only = self._handle(self._inotify.read())
            if relevant:
                self._check(kind_known=data_swap_only)

    def _handle(self, events: list[inotify.Event]) -> tuple[bool, bool]:
        """Update watches for a batch of events: (whether it may have changed content, whether
        it was only ``..data`` swaps in a watched volume directory, which cannot have turned
        the source into a file or a directory into one)."""
        relevant = False
        data_swap_only = self._is_dir_source
        kubelet = self._kubelet_mask or os.path.islink(os.path.join(self._dir, DATA_DIR_NAME))
        for event in events:
            if not (event.wd == self._main_wd and event.name == DATA_DIR_NAME):
                data_swap_only = False
            if event.mask & inotify.IN_Q_OVERFLOW:
                relevant = True
            elif event.wd == self._ancestor_wd:
                if self._arm():
                    relevant = True
            elif event.wd == self._main_wd:
                if event.mask & (inotify.IN_IGNORED | inotify.IN_MOVE_SELF):
                    # Deleted (the watch is gone) or moved away (stop following it): re-arm on
                    # the path, which waits on an ancestor until the directory is back.
                    if event.mask & inotify.IN_MOVE_SELF:
                        self._inotify_rm(self._main_wd)
                    self._main_wd = None
                    self._drop_subdirs()
                    self._arm()
                    relevant = True
                elif event.mask & inotify.IN_DELETE_SELF:
                    continue  # IN_IGNORED follows
                elif self._matters(event, self._dir, kubelet):
                    relevant = True
            elif event.wd in self._sub_wds:
                if event.mask & inotify.IN_IGNORED:
                    del self._sub_wds[event.wd]
                elif self._matters(event, self._sub_wds[event.wd], False):
                    relevant = True
        return relevant, data_swap_only

    def _matters(self, event: inotify.Event, where: Path, kubelet: bool) -> bool:
        name = event.name
        if name == DATA_DIR_NAME and where == self._dir:
            if not self._kubelet_mask:  # a plain directory became a kubelet volume
                self._drop_subdirs()
                self._arm()
            return bool(event.mask & (inotify.IN_MOVED_TO | inotify.IN_CREATE))
        if name.startswith("..") or kubelet:
            return False  # the kubelet's own steps: only the ..data swap publishes a version
        if not self._is_dir_source and name != self.source.name:
            return False
        if self._is_dir_source and is_editor_leftover(name):
            return False
        if event.mask & inotify.IN_CREATE:
            if event.mask & inotify.IN_ISDIR:
                self._watch_subdirs(where)
                return True
            # A new regular file is announced again by IN_CLOSE_WRITE once written; links and
            # hard links arrive complete.
            try:
                st = os.lstat(where / name)
            except FileNotFoundError:
                return False
            return stat.S_ISLNK(st.st_mode) or st.st_nlink > 1
        return True

    def _retarget(self) -> None:
        """The source turned out to be a directory (or stopped being one): watch the right one.

        Re-armed before the read that follows, so nothing written meanwhile is missed.
        """
        self._is_dir_source = not self._is_dir_source
        self._inotify_rm(self._main_wd)
        self._drop_subdirs()
        self._dir = self.source if self._is_dir_source else self.source.parent
        self._arm()

    def _inotify_rm(self, wd: int | None) -> None:
        if self._inotify is not None and wd is not None:
            self._inotify.rm_watch(wd)

    def _drop_subdirs(self) -> None:
        assert self._inotify is not None
        for wd in self._sub_wds:
            self._inotify.rm_watch(wd)
        self._sub_wds.clear()

    # -- polling --------------------------------------------------------------------------------

    def _run_poll(self) -> None:
        self._check()
        while not self._stop.wait(self.poll_interval):
            stamp = _stamp(self.source)
            if stamp != self._stamp:
                self._stamp = stamp
                self._check()

    # -- reading --------------------------------------------------------------------------------

    def _check(self, *, kind_known: bool = False) -> None:
        """Read and compare; ``kind_known``: the source is still the kind of entry (file or
        directory) it was, so the system call that would ask is saved."""
        if (
            not kind_known
            and self._inotify is not None
            and os.path.isdir(self.source) != self._is_dir_source
        ):
            self._retarget()
        try:
            snapshot = self._read()
        except SnapshotError as exc:
            self._on_error(exc)
            return
        if snapshot.same_content(self._last):
            self._last = snapshot
            return
        self._last = snapshot
        self._on_snapshot(snapshot)

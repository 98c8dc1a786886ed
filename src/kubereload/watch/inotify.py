"""A minimal inotify binding (ctypes over libc): watches directories, blocks with no timers.

Only what change detection needs: add/remove a watch and read parsed events. Raises
:class:`InotifyUnavailable` where inotify cannot be had, so callers can fall back to polling.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000

IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_EVENT = struct.Struct("iIII")


class InotifyUnavailable(OSError):
    """inotify cannot be used here (not Linux, no support, or a limit reached)."""


@dataclass(frozen=True)
class Event:
    wd: int
    mask: int
    name: str


def _libc() -> ctypes.CDLL:
    if not sys.platform.startswith("linux"):
        raise InotifyUnavailable(f"inotify is Linux-only (this is {sys.platform})")
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not glibc (musl, ...): ask ctypes where libc is
        from ctypes.util import find_library  # noqa: PLC0415 - pulls in subprocess

        libc = ctypes.CDLL(find_library("c"), use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        raise InotifyUnavailable("this libc has no inotify_init1")
    return libc


class Inotify:
    """One inotify instance. ``fileno()`` is pollable; ``read()`` drains pending events."""

    def __init__(self) -> None:
        self._libc = _libc()
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise InotifyUnavailable(err, f"inotify_init1: {os.strerror(err)}")
        self._fd: int = fd

    def fileno(self) -> int:
        return self._fd

    def add_watch(self, path: str, mask: int) -> int:
        wd: int = self._libc.inotify_add_watch(self._fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOSPC, errno.ENOSYS, errno.EMFILE):
                raise InotifyUnavailable(err, f"inotify_add_watch {path}: {os.strerror(err)}")
            raise OSError(err, os.strerror(err), path)
        return wd

    def rm_watch(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self._fd, wd)

    def read(self) -> list[Event]:
        try:
            buf = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return []
        events, offset = [], 0
        while offset + _EVENT.size <= len(buf):
            wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
            raw = buf[offset + _EVENT.size : offset + _EVENT.size + length]
            events.append(Event(wd, mask, os.fsdecode(raw.rstrip(b"\0"))))
            offset += _EVENT.size + length
        return events

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

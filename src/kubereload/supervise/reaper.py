"""PID 1 duties: become the reaper of orphans, and collect every child that has exited.

Not being PID 1 (a test, or ``docker run --init``-less shells), ``PR_SET_CHILD_SUBREAPER`` makes
orphaned grandchildren ours anyway. Children that an action waits for itself (``--validate``,
``--exec``) are left alone: see :mod:`kubereload.actions.children`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from pathlib import Path

from kubereload.actions import children

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (a no-op need for PID 1, which adopts them anyway)."""
    if os.getpid() == 1:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    except (OSError, AttributeError) as exc:
        log.warning("cannot become a child subreaper (%s): orphans will not be reaped here", exc)
        return False
    return True


def child_pids() -> set[int]:
    """Our children, running or zombie, from /proc (each thread lists the ones it owns)."""
    me = os.getpid()
    pids: set[int] = set()
    tasks = Path(f"/proc/{me}/task")
    try:
        for task in tasks.iterdir():
            pids.update(int(p) for p in (task / "children").read_text().split())
        return pids
    except OSError:
        pass  # no CONFIG_PROC_CHILDREN: scan every process's parent
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == me:
            pids.add(int(entry.name))
    return pids


def reap() -> dict[int, int]:
    """Collect every exited child no one else waits for: {pid: exit code (128+signal)}."""
    reaped: dict[int, int] = {}
    with children.SPAWN_LOCK:
        for pid in child_pids():
            if children.is_claimed(pid):
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                code = os.waitstatus_to_exitcode(status)
                reaped[pid] = 128 - code if code < 0 else code
    return reaped

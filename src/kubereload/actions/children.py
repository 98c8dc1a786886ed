"""Who reaps which child process.

``kubereload run`` reaps every child it has (PID 1's duty), but commands started by actions
(``--validate``, ``--exec``) are waited for by their own thread, which needs their exit status:
reaping them first would turn a failed ``nginx -t`` into a success. Spawns and reaps take one
lock, and the reaper leaves alone the pids registered here.
"""

from __future__ import annotations

import threading

SPAWN_LOCK = threading.Lock()
_owned: set[int] = set()


def claim(pid: int) -> None:
    """Mark ``pid`` as waited for by its spawner. Call with ``SPAWN_LOCK`` held."""
    _owned.add(pid)


def release(pid: int) -> None:
    with SPAWN_LOCK:
        _owned.discard(pid)


def is_claimed(pid: int) -> bool:
    """Call with ``SPAWN_LOCK`` held."""
    return pid in _owned

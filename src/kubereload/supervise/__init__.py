"""The process supervisor behind ``kubereload run``: PID 1 duties, signals, reload, restart."""

from kubereload.supervise.reaper import become_subreaper, reap
from kubereload.supervise.supervisor import ChildReload, Supervisor

__all__ = ["ChildReload", "Supervisor", "become_subreaper", "reap"]

"""What ``/proc/<pid>/stat`` says about a process: name, parent, group, state, start time.

Signals check a target is still the process they mean (a pid is reused once its process is
gone); commands find what they left running in their process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: str  # ``comm``: at most 15 characters
    state: str  # "R", "S", "Z" (exited, not yet reaped), ...
    ppid: int
    pgrp: int
    start_ticks: int  # clock ticks after boot: with the pid, names one process for ever

    @property
    def exited(self) -> bool:
        return self.state in ("Z", "X")


def stat(pid: int, proc: Path = PROC) -> ProcessInfo | None:
    """The process ``pid``, or None when there is none."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    close = raw.rfind(")")
    name = raw[raw.find("(") + 1 : close]
    fields = raw[close + 2 :].split()
    try:
        return ProcessInfo(pid, name, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def argv0(pid: int, proc: Path = PROC) -> str:
    """The base name of a process's ``argv[0]`` ("" when gone or a kernel thread)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    first = raw.split(b"\0", 1)[0].decode(errors="replace")
    return os.path.basename(first.split(" ", 1)[0].rstrip(":"))


def has_name(info: ProcessInfo, name: str, proc: Path = PROC) -> bool:
    """True when ``name`` is the process's ``comm`` (cut to 15 characters) or argv[0]."""
    return info.name == name[:15] or argv0(info.pid, proc) == name


def all_processes(proc: Path = PROC) -> list[ProcessInfo]:
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and (info := stat(int(entry.name), proc)) is not None:
            found.append(info)
    return found


def group_members(pgrp: int, proc: Path = PROC) -> list[ProcessInfo]:
    """The live processes of process group ``pgrp``."""
    return [p for p in all_processes(proc) if p.pgrp == pgrp and not p.exited]

"""The standard ``process_*`` metrics, read from ``/proc/self`` at scrape time.

Dashboards and alerts everywhere expect them (CPU, RSS, open fds, start time) under the names
prometheus_client's process collector uses; reading a few small /proc files per scrape costs
tens of microseconds and nothing between scrapes.
"""

from __future__ import annotations

import os
import resource

_PROC = "/proc/self"
# (name, type, help) in the order they are rendered
_HELP = (
    ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
    ("process_open_fds", "gauge", "Number of open file descriptors."),
    ("process_max_fds", "gauge", "Maximum number of open file descriptors."),
    ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
    ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    ("process_start_time_seconds", "gauge", "Start time, in seconds since the epoch."),
)


def _boot_time() -> float:
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return 0.0


def process_samples() -> dict[str, float]:
    """The current values by metric name; empty where /proc is not there (not Linux)."""
    try:
        with open(f"{_PROC}/stat", "rb") as stat:
            # the command name (field 2) may hold spaces and parentheses: split after its ")"
            fields = stat.read().rpartition(b")")[2].split()
        open_fds = len(os.listdir(f"{_PROC}/fd"))
        boot = _boot_time()
    except OSError:
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    # fields[0] is field 3 of proc(5): utime is 14, stime 15, starttime 22, vsize 23, rss 24
    return {
        "process_cpu_seconds_total": (int(fields[11]) + int(fields[12])) / ticks,
        "process_open_fds": float(open_fds),
        "process_max_fds": float(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
        "process_virtual_memory_bytes": float(fields[20]),
        "process_resident_memory_bytes": float(int(fields[21]) * page),
        "process_start_time_seconds": boot + int(fields[19]) / ticks,
    }


def render_process() -> list[str]:
    """Exposition lines for the ``process_*`` metrics (none where /proc is missing)."""
    values = process_samples()
    lines: list[str] = []
    for name, kind, help in _HELP:
        if name in values:
            value = values[name]
            text = str(int(value)) if value == int(value) else repr(value)
            lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}", f"{name} {text}"]
    return lines

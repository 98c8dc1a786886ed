"""The standard process_* metrics on every /metrics, checked against what the kernel reports."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from kubereload.server import Registry


def _values(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("process_"):
            name, value = line.split()
            out[name] = float(value)
    return out


def test_every_registry_renders_process_metrics() -> None:
    text = Registry().render()
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert "# TYPE process_resident_memory_bytes gauge" in text
    values = _values(text)
    assert set(values) == {
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_virtual_memory_bytes",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    }


def test_values_match_the_kernel() -> None:
    opened = [os.open("/dev/null", os.O_RDONLY) for _ in range(20)]
    try:
        with_fds = _values(Registry().render())
    finally:
        for fd in opened:
            os.close(fd)
    without = _values(Registry().render())
    assert with_fds["process_open_fds"] - without["process_open_fds"] == 20
    assert with_fds["process_max_fds"] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert without["process_cpu_seconds_total"] == pytest.approx(
        usage.ru_utime + usage.ru_stime, abs=0.1
    )
    # ru_maxrss is the peak in KiB: the current RSS is positive and never above it
    assert 0 < without["process_resident_memory_bytes"] <= usage.ru_maxrss * 1024 + 4096
    assert without["process_virtual_memory_bytes"] >= without["process_resident_memory_bytes"]


def test_start_time_is_when_the_process_started() -> None:
    before = time.time()
    child = subprocess.run(
        [sys.executable, "-c", PRINT_START],
        capture_output=True,
        text=True,
        check=True,
    )
    after = time.time()
    started = float(child.stdout)
    # the kernel's boot time has whole-second resolution
    assert before - 1.0 <= started <= after + 1.0


PRINT_START = """
from kubereload.server import Registry
for line in Registry().render().splitlines():
    if line.startswith("process_start_time_seconds "):
        print(line.split()[1])
"""

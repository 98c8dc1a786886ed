"""Idle cost: CPU, wake-ups and memory of one watch while nothing changes.

    python bench/bench_idle.py [--quick] [--seconds S] [KIND ...]

Each watcher (see ``_watchers.py``) runs in a process of its own on its own ConfigMap-style
volume; once all are set up and have settled for a second, they are left idle for 30 s
(``--quick``: 5 s), all at the same time: every figure is per process, so they do not disturb
one another's counts. From /proc: CPU = utime+stime of the process (/proc/PID/stat, all
threads, in clock ticks), wake-ups = voluntary + involuntary context switches summed over the
process's threads (/proc/PID/task/*/status), RSS = VmRSS at the end. The baseline row is the
same interpreter with PyYAML loaded and no watch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _table import machine_note, table
from _watchers import BASELINE, FLOOR, KINDS
from bench_detect import app_yaml

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    cpu_ticks: int
    switches: int
    threads: int


def sample(pid: int) -> Sample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the ")" closing the command name: utime and stime are the 12th and 13th.
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    switches = threads = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue  # a thread that just ended
        threads += 1
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                switches += int(line.split()[1])
    return Sample(ticks, switches, threads)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"of {', '.join(KINDS)} (all)")
    parser.add_argument("--quick", action="store_true", help="5 s idle instead of 30 s")
    parser.add_argument("--seconds", type=float, help="idle time (30; --quick: 5)")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    kinds = args.kinds or [kind for kind in KINDS if kind != FLOOR]
    if unknown := set(kinds) - set(KINDS):
        parser.error(
            f"unknown watcher {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}"
        )
    kinds = [*kinds, BASELINE]

    from kubereload.volume import AtomicWriter

    print("## Idle cost: one watch, nothing changing\n")
    print(
        f"{machine_note()}; {seconds:g} s idle, all watchers at once, each in its own process; "
        f"CPU from /proc/PID/stat in {1000 // TICK} ms ticks.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        procs: dict[str, subprocess.Popen[str]] = {}
        try:
            for i, kind in enumerate(kinds):
                volume = Path(tmp) / f"config-{i}"
                AtomicWriter(volume).write({"app.yaml": app_yaml(0)})
                procs[kind] = subprocess.Popen(
                    [sys.executable, str(HERE / "_watchers.py"), kind, str(volume)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            for kind, proc in procs.items():
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{kind} did not get ready")
            time.sleep(1.0)  # let set-up work (imports, warm-up batches) finish
            start = time.monotonic()
            before = {kind: sample(proc.pid) for kind, proc in procs.items()}
            time.sleep(seconds)
            after = {kind: sample(proc.pid) for kind, proc in procs.items()}
            elapsed = time.monotonic() - start
            rows = []
            for kind, proc in procs.items():
                cpu_s = (after[kind].cpu_ticks - before[kind].cpu_ticks) / TICK
                wakeups = after[kind].switches - before[kind].switches
                rows.append(
                    [
                        kind,
                        f"{100 * cpu_s / elapsed:.2f} %",
                        f"{1000 * cpu_s:.0f} ms",
                        f"{wakeups / elapsed:.1f}",
                        after[kind].threads,
                        f"{rss_kib(proc.pid) / 1024:.1f} MiB",
                    ]
                )
        finally:
            for proc in procs.values():
                if proc.stdin is not None:
                    proc.stdin.close()
            for proc in procs.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(
        table(
            [
                "watcher",
                "CPU (% of a core)",
                f"CPU in {seconds:g} s",
                "wake-ups/s",
                "threads",
                "RSS",
            ],
            rows,
        )
    )
    print()


if __name__ == "__main__":
    main()

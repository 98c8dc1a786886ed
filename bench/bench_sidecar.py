"""The sidecar, `kubereload watch`, against the `inotifywait` loop it replaces.

    python bench/bench_sidecar.py [--quick] [--updates N] [--idle SECONDS]

Both run as real processes on ConfigMap-style volumes written with the kubelet's AtomicWriter,
side by side in the same run, and call a webhook served by this script on 127.0.0.1:

- latency: change -> webhook received, over N updates (default 500; --quick 50), one at a time,
  timed in this process from just before ``AtomicWriter.write`` to the request's arrival. The
  loop is the one people write: ``inotifywait -m -e moved_to,create DIR | while read ...; do
  curl -X POST URL; done``. It fires once per event (the kubelet's new directory, ``..data_tmp``,
  ``..data``): its latency is taken to the call after the ``..data`` swap (the last of the
  update), and its calls per update are shown. The first of them fires before the new version
  is visible, i.e. it reloads the old config.
- idle: CPU time (utime+stime of every process of the tool) and RSS (sum of VmRSS) while three
  watched directories do not change for the idle window (default 10 s; --quick 3 s).
- start-up: spawn -> watches in place ("watching" x3 in kubereload's log; inotifywait's
  "Watches established."), over 10 starts (--quick 3).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table
from kubereload.volume import AtomicWriter

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "tests")]

from support.process import KUBERELOAD, descendants  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


class _QuietServer(ThreadingHTTPServer):
    """Stopping the loop kills curl mid-request: that reset is expected, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class Receiver:
    """The webhook: records the arrival time (perf_counter_ns) of every call.

    Not tests/support's receiver on purpose: it answers HTTP/1.1 (kept-alive connections, so
    the figures measure the sidecar, not connection setup), stamps in nanoseconds and stays
    quiet about the resets of a killed curl loop.
    """

    def __init__(self) -> None:
        self.arrivals: list[int] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now = time.perf_counter_ns()
                with receiver.cond:
                    receiver.arrivals.append(now)
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/-/reload"

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.arrivals) >= n, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def kubereload_watch(
    dirs: Sequence[Path], url: str, extra: Sequence[str] = ()
) -> subprocess.Popen[str]:
    args = [*KUBERELOAD, "watch", "--webhook", url, "--log-level", "info", *extra]
    for d in dirs:
        args += ["--dir", str(d)]
    return subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def inotify_loop(dirs: Sequence[Path], url: str) -> subprocess.Popen[str]:
    watched = " ".join(f"'{d}'" for d in dirs)
    script = (
        f"inotifywait -m -e moved_to,create {watched} | "
        f"while read -r dir event file; do curl -s -X POST '{url}' >/dev/null; done"
    )
    return subprocess.Popen(
        ["sh", "-c", script], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def wait_ready(proc: subprocess.Popen[str], pattern: str, count: int) -> None:
    """Read stderr until ``count`` lines match; keep draining it in the background after."""
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        if re.search(pattern, line):
            seen += 1
            if seen == count:
                break
    else:
        raise RuntimeError(f"{proc.args!r} exited before it was ready")
    threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()


READY = {"kubereload": ("watching", 3), "inotifywait": ("Watches established", 1)}


def stop(proc: subprocess.Popen[str]) -> None:
    for pid in reversed(tree(proc.pid)):  # the loop's sh, inotifywait and curl too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    return [pid, *descendants(pid)]


def cpu_ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total


def latency(
    kind: str, root: Path, receiver: Receiver, updates: int, others: Sequence[str] = ()
) -> tuple[list[int], float]:
    """Nanoseconds from write to the call that follows the ..data swap; calls per update.

    ``others``: more directories kubereload watches (that do not change), with these flags."""
    volume = root / f"lat-{kind}-{len(others)}"
    writer = AtomicWriter(volume)
    writer.write({"app.yaml": "n: 0\n"})
    dirs = [volume]
    if others:
        for i in range(2):
            extra = AtomicWriter(root / f"lat-other-{len(others)}-{i}")
            extra.write({"x": "1"})
            dirs.append(extra.target_dir)
    if kind == "kubereload":
        proc = kubereload_watch(dirs, receiver.url, others)
        wait_ready(proc, "watching", len(dirs))
    else:
        proc = inotify_loop(dirs, receiver.url)
        wait_ready(proc, *READY[kind])
    samples: list[int] = []
    calls_before = len(receiver.arrivals)
    per_update = 1
    try:
        # calibrate: how many calls does one update cause? (let the loop settle on it)
        if kind == "inotifywait":
            base = len(receiver.arrivals)
            writer.write({"app.yaml": "n: calibrate\n"})
            receiver.wait_count(base + 1)
            while receiver.wait_count(len(receiver.arrivals) + 1, timeout=0.5):
                pass
            per_update = len(receiver.arrivals) - base
        calls_before = len(receiver.arrivals)
        for n in range(1, updates + 1):
            expected = len(receiver.arrivals) + per_update
            t0 = time.perf_counter_ns()
            writer.write({"app.yaml": f"n: {n}\n"})
            if not receiver.wait_count(expected):
                raise RuntimeError(f"{kind}: update {n} got no webhook call")
            samples.append(receiver.arrivals[expected - 1] - t0)
        calls = (len(receiver.arrivals) - calls_before) / updates
    finally:
        stop(proc)
    return samples, calls


def idle(kind: str, root: Path, receiver: Receiver, seconds: float) -> tuple[float, int]:
    dirs = []
    for i in range(3):
        writer = AtomicWriter(root / f"idle-{kind}-{i}")
        writer.write({"app.yaml": f"dir: {i}\n"})
        dirs.append(writer.target_dir)
    proc = (kubereload_watch if kind == "kubereload" else inotify_loop)(dirs, receiver.url)
    try:
        wait_ready(proc, *READY[kind])
        time.sleep(1.0)  # let start-up work finish before the window
        pids = tree(proc.pid)
        before = cpu_ticks(pids)
        time.sleep(seconds)
        after = cpu_ticks(pids)
        memory = rss_kib(tree(proc.pid))
    finally:
        stop(proc)
    return (after - before) / TICK / seconds * 100, memory


def startup(kind: str, root: Path, receiver: Receiver, runs: int) -> list[int]:
    dirs = []
    for i in range(3):
        writer = AtomicWriter(root / f"start-{kind}-{i}")
        writer.write({"app.yaml": f"dir: {i}\n"})
        dirs.append(writer.target_dir)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        proc = (kubereload_watch if kind == "kubereload" else inotify_loop)(dirs, receiver.url)
        try:
            wait_ready(proc, *READY[kind])
            times.append(time.perf_counter_ns() - t0)
        finally:
            stop(proc)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer iterations")
    parser.add_argument("--updates", type=int, help="updates for the latency run (500)")
    parser.add_argument("--idle", type=float, help="idle window in seconds (10)")
    args = parser.parse_args()
    updates = args.updates or (50 if args.quick else 500)
    idle_s = args.idle or (3.0 if args.quick else 10.0)
    runs = 3 if args.quick else 10
    kinds = ["kubereload"]
    if shutil.which("inotifywait") and shutil.which("curl"):
        kinds.append("inotifywait")
    else:
        print("note: inotifywait or curl missing (Debian: inotify-tools, curl); kubereload only")

    receiver = Receiver()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sidecar-") as tmp:
        root = Path(tmp)
        for kind in kinds:
            lat, calls = latency(kind, root, receiver, updates)
            cpu, rss = idle(kind, root, receiver, idle_s)
            start = startup(kind, root, receiver, runs)
            name = "kubereload watch (1 dir)" if kind == "kubereload" else "inotifywait loop + curl"
            rows.append(
                [
                    name,
                    fmt_ns(percentile(lat, 50)),
                    fmt_ns(percentile(lat, 99)),
                    f"{calls:.2g}",
                    f"{cpu:.3f} %",
                    f"{rss / 1024:.1f} MiB",
                    fmt_ns(percentile(start, 50)),
                    fmt_ns(max(start)),
                ]
            )
        # watching 3 dirs when only one changes: the --coalesce window is the price of one
        # reload per multi-volume update; with --coalesce 0 there is none
        for flags in (["--coalesce", "100ms"], ["--coalesce", "0"]):
            lat, calls = latency("kubereload", root, receiver, min(updates, 100), flags)
            rows.append(
                [
                    f"kubereload watch (3 dirs, {' '.join(flags)})",
                    fmt_ns(percentile(lat, 50)),
                    fmt_ns(percentile(lat, 99)),
                    f"{calls:.2g}",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    receiver.close()
    print(f"## Sidecar: change -> webhook ({updates} kubelet-style updates), idle, start-up\n")
    print(machine_note() + "\n")
    print(
        table(
            [
                "tool",
                "latency median",
                "latency p99",
                "calls/update",
                f"idle CPU ({idle_s:g}s, 3 dirs)",
                "RSS (3 dirs)",
                "start-up median",
                f"start-up max ({runs})",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

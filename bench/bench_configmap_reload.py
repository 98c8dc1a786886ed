"""`kubereload watch --webhook` against jimmidyson/configmap-reload, the sidecar it replaces.

    python bench/bench_configmap_reload.py [--quick] [--rounds N] [--idle SECONDS]

Both run as real processes, each on its own volume written by the kubelet's own AtomicWriter
(``../shared/envtest/bin/kubelet-atomicwriter``: one JSON payload per stdin line; it prints
``time.Now().UnixNano()`` when the write returns), in alternating rounds so both see the same
machine load. A round changes one key; the latency is writer return -> webhook request received
(both wall-clock nanoseconds, taken on this machine). configmap-reload POSTs once per ``..data``
Create/Write event with no validation and no content check; kubereload reads the new version
through ``..data``, checks that the content changed, then POSTs.

Also: RSS (VmRSS) after the rounds, and CPU time while idle (default 10 s; --quick 3 s).
Needs ``../shared/anchors/bin/configmap-reload`` (Go) and the kubelet writer; skips otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIGMAP_RELOAD = SHARED / "anchors" / "bin" / "configmap-reload"
KUBELET_WRITER = SHARED / "envtest" / "bin" / "kubelet-atomicwriter"
TICK = os.sysconf("SC_CLK_TCK")


class Receiver(ThreadingHTTPServer):
    """The webhook: wall-clock arrival times (ns), by request path."""

    daemon_threads = True

    def __init__(self) -> None:
        self.arrivals: dict[str, list[int]] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now = time.time_ns()
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with receiver.cond:
                    receiver.arrivals.setdefault(self.path, []).append(now)
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def wait_count(self, path: str, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.arrivals.get(path, [])) >= n, timeout)

    def count(self, path: str) -> int:
        with self.cond:
            return len(self.arrivals.get(path, []))


class KubeletWriter:
    """The kubelet's AtomicWriter on one directory, one payload per call."""

    def __init__(self, directory: Path) -> None:
        self.proc = subprocess.Popen(
            [str(KUBELET_WRITER), str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def write(self, payload: dict[str, str]) -> int:
        """Write, and return the writer's own wall-clock time (ns) when the write returned."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(payload) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(tool: str, directory: Path, url: str) -> subprocess.Popen[bytes]:
    if tool == "configmap-reload":
        argv = [
            str(CONFIGMAP_RELOAD),
            "--volume-dir", str(directory),
            "--webhook-url", url,
            "--web.listen-address", f"127.0.0.1:{free_port()}",
        ]  # fmt: skip
    else:
        argv = [sys.executable, "-m", "kubereload", "watch", "--dir", str(directory)]
        argv += ["--webhook", url, "--log-level", "warning"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 30 rounds, 3 s idle")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per tool (300)")
    parser.add_argument("--idle", type=float, default=None, help="idle window, seconds (10)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (30 if args.quick else 300)
    idle = args.idle or (3.0 if args.quick else 10.0)
    missing = [str(p) for p in (CONFIGMAP_RELOAD, KUBELET_WRITER) if not os.access(p, os.X_OK)]
    if missing:
        print(f"skipped: not found: {', '.join(missing)}")
        return 0

    tools = ("configmap-reload", "kubereload watch")
    receiver = Receiver()
    latencies: dict[str, list[int]] = {tool: [] for tool in tools}
    lost = dict.fromkeys(tools, 0)
    with tempfile.TemporaryDirectory(prefix="bench-cmr-") as tmp:
        writers, procs, paths = {}, {}, {}
        try:
            for i, tool in enumerate(tools):
                directory = Path(tmp) / f"vol{i}"
                directory.mkdir()
                writers[tool] = KubeletWriter(directory)
                writers[tool].write({"app.yaml": "round: 0\n"})
                paths[tool] = f"/reload/{i}"
                procs[tool] = start(tool, directory, receiver.url(paths[tool]))
            # warm up: each tool reloads on a change once before timing starts
            for tool in tools:
                deadline = time.monotonic() + 30
                while receiver.count(paths[tool]) == 0 and time.monotonic() < deadline:
                    writers[tool].write({"app.yaml": f"warm: {time.monotonic_ns()}\n"})
                    receiver.wait_count(paths[tool], 1, 1.0)
                if receiver.count(paths[tool]) == 0:
                    print(f"error: {tool} never called the webhook")
                    return 1
            time.sleep(0.5)  # let late duplicate calls of the warm-up arrive before counting
            for n in range(1, rounds + 1):
                for tool in tools:
                    before = receiver.count(paths[tool])
                    written = writers[tool].write({"app.yaml": f"round: {n}\n"})
                    if receiver.wait_count(paths[tool], before + 1, 5.0):
                        with receiver.cond:
                            arrived = receiver.arrivals[paths[tool]][before]
                        latencies[tool].append(arrived - written)
                    else:
                        lost[tool] += 1
                    time.sleep(0.005)
            rss = {tool: rss_kib(procs[tool].pid) for tool in tools}
            ticks = {tool: cpu_ticks(procs[tool].pid) for tool in tools}
            time.sleep(idle)
            idle_cpu = {
                tool: (cpu_ticks(procs[tool].pid) - ticks[tool]) / TICK / idle * 100
                for tool in tools
            }
        finally:
            for proc in procs.values():
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
            for writer in writers.values():
                writer.close()
            receiver.shutdown()

    print(machine_note())
    print(
        f"{rounds} alternating rounds on volumes written by the kubelet's AtomicWriter; "
        "writer return -> webhook received\n"
    )
    rows = []
    for tool in tools:
        values = latencies[tool]
        rows.append(
            [
                f"**{tool}**" if tool.startswith("kubereload") else tool,
                f"{len(values)}/{rounds}",
                fmt_ns(percentile(values, 50)),
                fmt_ns(percentile(values, 99)),
                f"{rss[tool] / 1024:.1f} MiB",
                f"{idle_cpu[tool]:.2f} %",
            ]
        )
    print(table(["tool", "delivered", "median", "p99", "RSS", "idle CPU"], rows))
    p50 = [percentile(latencies[t], 50) for t in tools]
    p99 = [percentile(latencies[t], 99) for t in tools]
    # configmap-reload's median is below zero (it calls on the ..data rename, before the writer
    # returns): a ratio of such numbers means nothing, the difference does
    print(
        f"\nkubereload - configmap-reload: median {fmt_ns(p50[1] - p50[0])}, "
        f"p99 {fmt_ns(p99[1] - p99[0])}; RSS {rss[tools[1]] / rss[tools[0]]:.2f}x"
        + (f", p99 {p99[1] / p99[0]:.2f}x" if min(p99) > 0 else "")
    )
    return 0 if not any(lost.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

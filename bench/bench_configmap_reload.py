"""`kubereload watch --webhook` against jimmidyson/configmap-reload, the sidecar it replaces.

    python bench/bench_configmap_reload.py [--quick] [--rounds N] [--idle SECONDS]

Both run as real processes, each on its own volume written by the kubelet's own AtomicWriter
(``../shared/envtest/bin/kubelet-atomicwriter``: one JSON payload per stdin line; it prints
``time.Now().UnixNano()`` when the write returns), in alternating rounds so both see the same
machine load. A round changes one key; the latency runs from the moment the payload is handed to
the writer to the moment the webhook request is received (both wall-clock nanoseconds, taken in
this process), the same span for both tools, so it can never be below zero. The writer's own
time (payload handed over -> its return, by its clock) and the arrival measured from the writer's
return (below zero when the call comes while the writer still removes the old version) are
shown beside it. configmap-reload POSTs once per ``..data``
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
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIGMAP_RELOAD = SHARED / "anchors" / "bin" / "configmap-reload"
KUBELET_WRITER = SHARED / "envtest" / "bin" / "kubelet-atomicwriter"
TICK = os.sysconf("SC_CLK_TCK")


class Receiver:
    """The webhook: wall-clock arrival times (ns), by request path.

    A bare socket loop, not ``http.server``: the time is taken when the request's first bytes
    are readable, before any parsing, so the receiver adds the same small cost to both tools.
    Every request is answered ``200`` with an empty body, and the connection is kept open.
    """

    def __init__(self) -> None:
        self.arrivals: dict[str, list[int]] = {}
        self.cond = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._buffers: dict[socket.socket, bytes] = {}
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            for key, _ in self._selector.select():
                now = time.time_ns()
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._wake_r:
                    return
                if sock is self._listener:
                    conn, _ = sock.accept()
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._selector.register(conn, selectors.EVENT_READ)
                    self._buffers[conn] = b""
                    continue
                self._read(sock, now)

    def _read(self, conn: socket.socket, now: int) -> None:
        data = conn.recv(65536)
        if not data:
            self._selector.unregister(conn)
            del self._buffers[conn]
            conn.close()
            return
        if not self._buffers[conn]:
            self._buffers[conn] = b"%d " % now  # the request started arriving now
        buffer = self._buffers[conn] + data
        while b"\r\n\r\n" in buffer:  # requests without a body (both tools send none)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            stamp, _, request_line = head.partition(b" ")
            path = request_line.split(b" ", 2)[1].decode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            with self.cond:
                self.arrivals.setdefault(path, []).append(int(stamp))
                self.cond.notify_all()
            if buffer:
                buffer = b"%d " % now + buffer
        self._buffers[conn] = buffer

    def shutdown(self) -> None:
        self._wake_w.send(b"x")
        self._thread.join(5)
        for conn in self._buffers:
            conn.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

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

    def write(self, payload: dict[str, str]) -> tuple[int, int]:
        """Write; return the wall-clock times (ns) when the payload was handed to the writer and
        when the writer (by its own clock) returned."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        line = json.dumps(payload) + "\n"
        started = time.time_ns()
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        return started, int(self.proc.stdout.readline())

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
    writer_ns: dict[str, list[int]] = {tool: [] for tool in tools}
    after_return: dict[str, list[int]] = {tool: [] for tool in tools}
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
                order = tools if n % 2 else tools[::-1]  # neither always goes first
                for tool in order:
                    before = receiver.count(paths[tool])
                    started, returned = writers[tool].write({"app.yaml": f"round: {n}\n"})
                    writer_ns[tool].append(returned - started)
                    if receiver.wait_count(paths[tool], before + 1, 5.0):
                        with receiver.cond:
                            arrived = receiver.arrivals[paths[tool]][before]
                        latencies[tool].append(arrived - started)
                        after_return[tool].append(arrived - returned)
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
        "payload handed to the writer -> webhook request received\n"
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
                fmt_ns(percentile(after_return[tool], 50)),
                fmt_ns(percentile(writer_ns[tool], 50)),
                f"{rss[tool] / 1024:.1f} MiB",
                f"{idle_cpu[tool]:.2f} %",
            ]
        )
    headers = ["tool", "delivered", "median", "p99", "after writer return (median)"]
    print(table([*headers, "writer (median)", "RSS", "idle CPU"], rows))
    p50 = [percentile(latencies[t], 50) for t in tools]
    p99 = [percentile(latencies[t], 99) for t in tools]
    print(
        f"\nkubereload / configmap-reload: median {p50[1] / p50[0]:.2f}x, "
        f"p99 {p99[1] / p99[0]:.2f}x, RSS {rss[tools[1]] / rss[tools[0]]:.2f}x"
    )
    return 0 if not any(lost.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

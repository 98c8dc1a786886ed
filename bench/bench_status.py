"""The status server (``--listen``) under a probe storm and a half-open flood, beside the
stdlib ``ThreadingHTTPServer`` it replaced (``bench/_threading_status.py``), in the same run.

    python bench/bench_status.py [--quick] [--rounds N]

Both run as real processes: kubereload is ``kubereload watch --listen 127.0.0.1:0``.

- storm: 200 connections opened at once, each ``GET /healthz`` then close; the time from the
  connect call to the whole answer, per connection, over N rounds (default 20; --quick 5).
  A round waits 5 s for its answers; the ones that got none count as slower than any.
  The client is one thread with non-blocking sockets, so it adds the same small cost to both.
- half-open: 400 connections that send half a request head and then nothing; the server's
  thread count once they are all accepted, and the latency of 20 ``/healthz`` probes made
  one at a time while they are held.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table

HERE = Path(__file__).resolve().parent
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
HALF = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
ROUND_LIMIT = 5.0  # seconds a storm round waits for its answers (a kubelet probe waits 1 s)


def start_kubereload(volume: Path) -> tuple[subprocess.Popen[str], int]:
    command = ["watch", "--dir", str(volume), "--exec", "true", "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubereload", *command], stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if match := re.search(r"serving /healthz.* on [\d.]+:(\d+)", line):
            # keep reading its log, so a full pipe never blocks it
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(match.group(1))
    raise RuntimeError("kubereload watch did not start its status server")


def start_baseline() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_threading_status.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline().split()[1])


def threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def storm(port: int, connections: int) -> tuple[list[float], int]:
    """Open ``connections`` at once: ns from connect to the end of each answer, and how many
    got none within ``ROUND_LIMIT``."""
    selector = selectors.DefaultSelector()
    began: dict[socket.socket, int] = {}
    for _ in range(connections):
        client = socket.socket()
        client.setblocking(False)
        began[client] = time.perf_counter_ns()
        client.connect_ex(("127.0.0.1", port))
        selector.register(client, selectors.EVENT_WRITE)
    took: list[float] = []
    deadline = time.monotonic() + ROUND_LIMIT
    while len(took) < connections and time.monotonic() < deadline:
        for key, events in selector.select(1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if events & selectors.EVENT_WRITE:
                sock.send(REQUEST)
                selector.modify(sock, selectors.EVENT_READ)
                continue
            try:
                chunk = sock.recv(65536)
            except ConnectionError:
                chunk = b""
            if not chunk:
                took.append(time.perf_counter_ns() - began[sock])
                selector.unregister(sock)
                sock.close()
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return took, connections - len(took)


def nearest_rank(values: list[float], lost: int, q: float) -> str:
    """The q-th percentile with the unanswered counted as slower than everything."""
    rank = math.ceil(q / 100 * (len(values) + lost)) - 1
    if rank >= len(values):
        return f"> {ROUND_LIMIT:g} s"
    return fmt_ns(sorted(values)[rank])


def probe(port: int) -> float:
    began = time.perf_counter_ns()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(REQUEST)
        while sock.recv(65536):
            pass
    return time.perf_counter_ns() - began


def half_open(pid: int, port: int, connections: int) -> tuple[int, list[float]]:
    """Server threads with ``connections`` half-open ones held, and probe latencies then."""
    held = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(HALF)
        held.append(sock)
    probe(port)  # every earlier connection has been accepted once this is answered
    count = threads(pid)
    probes = [probe(port) for _ in range(20)]
    for sock in held:
        sock.close()
    return count, probes


def measure(name: str, proc: subprocess.Popen[str], port: int, rounds: int) -> list[str]:
    try:
        idle = threads(proc.pid)
        storm_ns: list[float] = []
        lost = 0
        for _ in range(rounds):
            took, missing = storm(port, 200)
            storm_ns += took
            lost += missing
        held_threads, probes = half_open(proc.pid, port, 400)
    finally:
        proc.kill()
        proc.wait()
    return [
        name,
        nearest_rank(storm_ns, lost, 50),
        nearest_rank(storm_ns, lost, 99),
        f"{lost}/{rounds * 200}",
        str(idle),
        str(held_threads),
        fmt_ns(percentile(probes, 50)),
        fmt_ns(max(probes)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, help="storm rounds (default 20)")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 20)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            measure("kubereload (selectors loop)", *start_kubereload(Path(tmp)), rounds),
            measure("stdlib ThreadingHTTPServer (before)", *start_baseline(), rounds),
        ]
    print(machine_note())
    print(f"200 concurrent GET /healthz x {rounds} rounds; then 400 half-open connections\n")
    headers = [
        "server",
        "storm p50",
        "storm p99",
        f"storm: no answer in {ROUND_LIMIT:g} s",
        "threads idle",
        "threads, 400 half-open",
        "probe p50, half-open",
        "probe max, half-open",
    ]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hostile clients of the status server (``--listen``): half-open floods, slow and oversized
request heads, resets, more connections than allowed; and output that must stay in the log
format. Real sockets, and ``kubereload watch`` as a real process where threads are counted."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubereload.server import HealthRegistry, Registry, StatusServer
from kubereload.server.http import ServerLimits
from support.process import Proc, http_get, kubereload

HALF = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^Threads:\s+(\d+)", status, re.M)
    assert match
    return int(match.group(1))


def _connect(port: int, send: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if send:
        sock.sendall(send)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True), or 30 s pass with the connection open (False)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that crashed or a load balancer that gave up."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[tuple[Proc, int]]:
    proc = kubereload("watch", "--dir", str(tmp_path), "--exec", "true", "--listen", "127.0.0.1:0")
    try:
        yield proc, proc.listening_port()
    finally:
        proc.stop()


def test_400_half_open_connections_cost_no_threads_and_probes_still_answer(
    watch: tuple[Proc, int],
) -> None:
    proc, port = watch
    idle = _threads(proc.pid)
    held = [_connect(port, HALF) for _ in range(400)]
    try:
        status, body = http_get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert status == 200 and body.endswith("ok\n")
        assert _threads(proc.pid) <= max(idle, 10)
    finally:
        for sock in held:
            sock.close()


def _server(**limits: float) -> StatusServer:
    server = StatusServer(
        ("127.0.0.1", 0),
        Registry(),
        HealthRegistry(),
        ServerLimits(**limits),  # type: ignore[arg-type]
    )
    server.start()
    return server


def test_a_request_head_that_never_completes_is_closed_after_the_timeout() -> None:
    server = _server(request_timeout=0.3)
    try:
        slow = _connect(server.port, HALF)
        silent = _connect(server.port)
        assert _closed_by_server(slow) and _closed_by_server(silent)
        # a keep-alive connection idle after its answer goes the same way
        idle = _connect(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert _closed_by_server(idle)
    finally:
        server.close()


def test_beyond_the_connection_cap_the_longest_idle_makes_room() -> None:
    server = _server(max_connections=8)
    try:
        held = [_connect(server.port, HALF) for _ in range(20)]
        status, _ = http_get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        assert status == 200
        assert _closed_by_server(held[0])  # the oldest were closed to make room
        for sock in held:
            sock.close()
    finally:
        server.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /healthz HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 5000, b"431"),  # never ends
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", b"400"),
        (b"DELETE /healthz HTTP/1.1\r\n\r\n", b"405"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # a TLS hello
    ],
)
def test_oversized_or_unwanted_requests_are_refused_and_closed(
    request_bytes: bytes, status: bytes
) -> None:
    server = _server()
    try:
        sock = _connect(server.port, request_bytes)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
        assert http_get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
    finally:
        server.close()


def test_client_resets_are_one_debug_line_and_json_logs_stay_json(tmp_path: Path) -> None:
    proc = kubereload(
        "watch",
        *["--dir", str(tmp_path), "--exec", "true", "--listen", "127.0.0.1:0"],
        *["--log-format", "json", "--log-level", "debug"],
    )
    try:
        port = proc.listening_port()
        for _ in range(5):
            _reset(_connect(port, HALF))
            _reset(_connect(port))
            _connect(port).close()
            _connect(port, b"garbage\r\n\r\n").close()
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    records = [json.loads(line) for line in proc.lines]  # every line is a JSON record
    client = [r for r in records if "status client" in r["message"]]
    assert all(r["level"] == "debug" and "\n" not in r["message"] for r in client)
    assert not any("Traceback" in line for line in proc.lines)


def test_an_uncaught_thread_exception_is_logged_as_json() -> None:
    code = (
        "import threading, sys\n"
        "from kubereload.cli.logs import setup_logging\n"
        "setup_logging('json', 'info')\n"
        "def boom(): raise RuntimeError('in a worker')\n"
        "t = threading.Thread(target=boom, name='worker'); t.start(); t.join()\n"
        "raise ValueError('in main')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["level"], r["message"]) for r in records] == [
        ("error", "thread worker died of RuntimeError"),
        ("critical", "stopped by ValueError"),
    ]
    assert "in a worker" in records[0]["exception"]

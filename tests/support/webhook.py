"""A local webhook receiver for the tests and benchmarks of the reload actions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    at: float  # time.perf_counter() when it arrived


class Receiver:
    """A webhook on 127.0.0.1 that records every call it gets: path, headers, arrival time.

    It answers ``status`` (200; a test sets another to make the calls fail)."""

    def __init__(self, path: str = "/reload") -> None:
        self.calls: list[Call] = []
        self.status = 200
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                call = Call(self.path, dict(self.headers), time.perf_counter())
                with receiver.cond:
                    receiver.calls.append(call)
                    receiver.cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"

    @property
    def times(self) -> list[float]:
        return [call.at for call in self.calls]

    def wait_calls(self, n: int, timeout: float = 30.0) -> None:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.calls) >= n, timeout)
            assert ok, f"{len(self.calls)} calls, expected {n}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

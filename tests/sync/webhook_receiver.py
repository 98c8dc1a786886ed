"""A local webhook receiver for the sync tests and benchmarks."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook on 127.0.0.1 that counts the calls it gets (and when: ``perf_counter``)."""

    def __init__(self) -> None:
        self.calls = 0
        self.times: list[float] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver.cond:
                    receiver.times.append(time.perf_counter())
                    receiver.calls += 1
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/reload"

    def wait_calls(self, n: int, timeout: float = 15.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.calls >= n, timeout), f"{self.calls} calls"

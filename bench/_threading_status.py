"""The status server kubereload had before it was bounded, kept as the baseline of
``bench_status.py``: the stdlib ``ThreadingHTTPServer`` (a thread per connection, no timeouts,
the default listen backlog of 5) answering ``/healthz`` the way the old handler did.

    python bench/_threading_status.py    # prints "port N", serves until killed
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        data = b"[+] reloader: ok\nok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the old server printed a traceback here; the bench only measures


if __name__ == "__main__":
    server = _Server(("127.0.0.1", 0), _Handler)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()

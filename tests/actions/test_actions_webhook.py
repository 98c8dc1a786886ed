"""The webhook action against real local HTTP servers: retries, back-off, timeouts, credentials."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kubereload.actions import (
    ActionError,
    ReloadContext,
    ReloadPipeline,
    ReloadResult,
    Webhook,
    WebhookOptions,
)
from kubereload.server import Telemetry


class Hook:
    """A local webhook; ``answer(n)`` gives the status of the n-th request (from 0)."""

    def __init__(self, answer: Callable[[int], int]) -> None:
        self.answer = answer
        self.requests: list[tuple[float, str, str, dict[str, str]]] = []
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with hook.cond:
                    n = len(hook.requests)
                    hook.requests.append(
                        (time.monotonic(), self.command, self.path, dict(self.headers))
                    )
                    hook.cond.notify_all()
                self.send_response(hook.answer(n))
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/-/reload"

    def wait_requests(self, n: int, timeout: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= n, timeout), self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Callable[[Callable[[int], int]], Hook]]:
    hooks: list[Hook] = []

    def make(answer: Callable[[int], int]) -> Hook:
        hooks.append(Hook(answer))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


def test_a_flaky_webhook_is_retried_with_growing_backoff(hook_factory: Callable) -> None:
    hook = hook_factory(lambda n: 503 if n < 2 else 200)
    telemetry = Telemetry()
    action = Webhook(WebhookOptions(hook.url, retries=4, backoff=0.05), telemetry)
    action.run(ReloadContext(("conf",)))
    assert len(hook.requests) == 3
    times = [r[0] for r in hook.requests]
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    # equal jitter: the n-th wait is within [b*2^n/2, b*2^n], so the second is never shorter
    assert first_gap >= 0.025
    assert second_gap >= first_gap
    target = f"http://127.0.0.1:{hook.server.server_address[1]}/-/reload"
    assert telemetry.webhook_errors.value(target=target, reason="status") == 2
    assert telemetry.webhook_seconds.count(target=target) == 3


def test_retries_are_bounded_and_a_4xx_is_not_retried(hook_factory: Callable) -> None:
    always_down = hook_factory(lambda n: 500)
    action = Webhook(WebhookOptions(always_down.url, retries=2, backoff=0.01))
    with pytest.raises(ActionError, match=r"HTTP 500.*attempt 3/3"):
        action.run(ReloadContext(("conf",)))
    assert len(always_down.requests) == 3

    forbidden = hook_factory(lambda n: 403)
    with pytest.raises(ActionError, match="unexpected HTTP 403"):
        Webhook(WebhookOptions(forbidden.url, retries=5, backoff=0.01)).run(
            ReloadContext(("conf",))
        )
    assert len(forbidden.requests) == 1


def test_expect_method_and_headers(hook_factory: Callable) -> None:
    hook = hook_factory(lambda n: 202)
    strict = Webhook(WebhookOptions(hook.url, expect=[204], retries=0))
    with pytest.raises(ActionError, match="unexpected HTTP 202"):
        strict.run(ReloadContext(("conf",)))
    Webhook(
        WebhookOptions(hook.url, method="PUT", headers={"X-Reason": "config"}, expect=[202])
    ).run(ReloadContext(("conf",)))
    _, method, path, headers = hook.requests[-1]
    assert (method, path, headers["X-Reason"]) == ("PUT", "/-/reload", "config")


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and never answers: a hung webhook."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/reload", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_hung_webhook_times_out_without_blocking_the_next_change(
    silent_server: tuple[str, list[socket.socket]], hook_factory: Callable
) -> None:
    url, accepted = silent_server
    good = hook_factory(lambda n: 200)
    telemetry = Telemetry()
    hung = Webhook(WebhookOptions(url, timeout=0.3, retries=1, backoff=0.05), telemetry)
    second = Webhook(WebhookOptions(good.url, retries=0), telemetry)
    finished = threading.Event()
    results: list[ReloadResult] = []

    pipeline = ReloadPipeline([hung, second], observer=telemetry)
    original = telemetry.reload_finished

    def record(result: ReloadResult) -> None:
        original(result)
        results.append(result)
        if len(results) == 2:
            finished.set()

    telemetry.reload_finished = record  # type: ignore[method-assign]
    pipeline.start()
    try:
        pipeline.submit("a")
        # the first attempt hangs; a second change arrives meanwhile
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        pipeline.submit("b")
        assert finished.wait(10), "the second change was never reloaded"
    finally:
        pipeline.close()
    first, then = results
    assert not first.ok and "not retried, a newer change is pending" in (first.error or "")
    assert then.sources == ("b",)
    assert not then.ok and "attempt 2/2" in (then.error or "")  # bounded, then given up
    # the other action of each reload still ran: the hung one does not stop the rest
    assert len(good.requests) == 2
    target = url.rsplit("/", 1)[0] + "/reload"
    assert telemetry.webhook_errors.value(target=target, reason="timeout") >= 2


def test_credentials_reach_the_server_but_never_logs_errors_or_metrics(
    hook_factory: Callable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = hook_factory(lambda n: 500 if n == 0 else 200)
    token = tmp_path / "token"
    token.write_text("tok-first-9f8e7d\n")
    url = hook.url.replace("http://", "http://alice:s3cr3t-pw@") + "?apikey=qs-secret-123"
    telemetry = Telemetry()
    action = Webhook(
        WebhookOptions(url, bearer_token_file=token, retries=3, backoff=0.01), telemetry
    )
    caplog.set_level(logging.DEBUG)
    action.run(ReloadContext(("conf",)))
    assert hook.requests[-1][3]["Authorization"] == "Bearer tok-first-9f8e7d"
    assert hook.requests[-1][2] == "/-/reload?apikey=qs-secret-123"
    token.write_text("tok-rotated-1a2b3c\n")  # a rotated Secret is read at the next call
    action.run(ReloadContext(("conf",)))
    assert hook.requests[-1][3]["Authorization"] == "Bearer tok-rotated-1a2b3c"

    down = Webhook(
        WebhookOptions(url.replace(str(hook.server.server_address[1]), "1"), retries=0), telemetry
    )
    with pytest.raises(ActionError) as failure:
        down.run(ReloadContext(("conf",)))
    shown = "\n".join(
        [caplog.text, str(failure.value), action.describe(), telemetry.registry.render()]
    )
    for secret in ("alice", "s3cr3t-pw", "qs-secret-123", "tok-first", "tok-rotated"):
        assert secret not in shown
    assert "REDACTED" in caplog.text


def test_basic_auth_from_a_file(hook_factory: Callable, tmp_path: Path) -> None:
    hook = hook_factory(lambda n: 200)
    creds = tmp_path / "auth"
    creds.write_text("reloader:pa55\n")
    webhook = Webhook(WebhookOptions(hook.url, basic_auth_file=creds))
    webhook.run(ReloadContext(("c",)))
    assert hook.requests[0][3]["Authorization"] == "Basic cmVsb2FkZXI6cGE1NQ=="
    creds.unlink()  # gone after start: that reload fails, the next may find it again
    with pytest.raises(ActionError, match="cannot read the basic auth file"):
        webhook.run(ReloadContext(("c",)))
    with pytest.raises(ValueError, match=r"--webhook-basic-auth-file .*: cannot read it"):
        Webhook(WebhookOptions(hook.url, basic_auth_file=creds))  # missing at start: refused


@pytest.fixture
def tls_hook(tmp_path: Path) -> Iterator[tuple[str, Path, Hook]]:
    """An https:// webhook with a self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    hook = Hook(lambda n: 200)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    hook.server.socket = context.wrap_socket(hook.server.socket, server_side=True)
    yield hook.url.replace("http://", "https://"), cert, hook
    hook.close()


def test_https_with_a_ca_file(tls_hook: tuple[str, Path, Hook]) -> None:
    url, cert, hook = tls_hook
    Webhook(WebhookOptions(url, ca_file=cert)).run(ReloadContext(("c",)))
    assert len(hook.requests) == 1
    telemetry = Telemetry()
    untrusted = Webhook(WebhookOptions(url, retries=0), telemetry)
    with pytest.raises(ActionError, match="TLS error"):
        untrusted.run(ReloadContext(("c",)))
    assert telemetry.webhook_errors.value(target=untrusted.target, reason="tls") == 1


class RawHook:
    """An HTTP/1.1 target on a raw socket: answers each request with the next of ``answers``
    and closes the connection after those marked so, counting connections."""

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers = answers
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/-/reload"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while self.answers:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if b"\r\n\r\n" not in data:
                        break
                    request, _, data = data.partition(b"\r\n\r\n")
                    self.requests.append(request)
                    answer, close = self.answers.pop(0)
                    conn.sendall(answer)
                    if close:
                        break


def test_a_plain_http_target_is_called_over_one_kept_alive_connection() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    hook = RawHook([(ok, False), (chunked, True), (ok, False)])
    webhook = Webhook(WebhookOptions(url=hook.url, retries=0))
    try:
        webhook.run(ReloadContext(("/etc/app",)))
        webhook.run(ReloadContext(("/etc/app",)))
        assert hook.connections == 1  # the second call reused the first one's connection
        webhook.run(ReloadContext(("/etc/app",)))  # the target closed it: a new one, no error
        assert hook.connections == 2
    finally:
        hook.listener.close()
    assert len(hook.requests) == 3
    assert all(r.startswith(b"POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1:") for r in hook.requests)


def test_an_answer_that_is_not_http_is_a_connection_error() -> None:
    hook = RawHook([(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", True)])
    webhook = Webhook(WebhookOptions(url=hook.url, retries=0))
    try:
        with pytest.raises(ActionError, match=r"not an HTTP/1\.x status line") as caught:
            webhook.run(ReloadContext(("/etc/app",)))
    finally:
        hook.listener.close()
    assert caught.value.reason == "connection"

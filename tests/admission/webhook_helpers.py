"""Shared by the admission tests: certificates, the webhook as a real process, AdmissionReviews."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubereload.admission.selfsigned import issue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def write_certificate(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1",), *, days: int = 365
) -> Path:
    """A fresh CA and a serving certificate for ``hosts``: ca.crt, tls.crt, tls.key
    (``days=0``: one that expired minutes ago)."""
    issued = issue(list(hosts), days=days)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(issued.ca_cert)
    (directory / "tls.crt").write_bytes(issued.cert)
    (directory / "tls.key").write_bytes(issued.key)
    return directory / "ca.crt"


class Webhook:
    """``kubereload admission`` running on free loopback ports; stderr kept in a file."""

    def __init__(
        self, tmp: Path, *args: str, env: dict[str, str] | None = None, wait_for: str = "/readyz"
    ) -> None:
        self.tls = tmp / "tls"
        self.ca = (
            write_certificate(self.tls)
            if not (self.tls / "tls.crt").exists()
            else self.tls / "ca.crt"
        )
        self.port = free_port()
        self.status_port = free_port()
        self.log = tmp / f"admission-{self.port}.log"
        command = [
            sys.executable, "-m", "kubereload", "admission",
            "--webhook-listen", f"127.0.0.1:{self.port}",
            "--listen", f"127.0.0.1:{self.status_port}",
            "--tls-cert-file", str(self.tls / "tls.crt"),
            "--tls-key-file", str(self.tls / "tls.key"),
            *args,
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )
        wait_until(
            lambda: self.answers(wait_for), 60, f"{self.url}: {wait_for} to answer 200 ({self.log})"
        )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/validate"

    def status(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.status_port}{path}", timeout=5
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def answers(self, path: str) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"admission exited {self.proc.returncode}: {self.output()}")
        return self.status(path)[0] == 200

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        _, text = self.status("/metrics")
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            series, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def post(self, body: bytes, ca: Path | None = None) -> tuple[int, Any]:
        context = ssl.create_default_context(cafile=str(ca or self.ca))
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=10
        )
        try:
            connection.request("POST", "/validate", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def review(
    obj: dict[str, Any], *, operation: str = "CREATE", dry_run: bool = False
) -> dict[str, Any]:
    """The AdmissionReview the API server sends for ``obj``."""
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": kind.lower() + "s"},
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", "default"),
            "operation": operation,
            "userInfo": {"username": "tester"},
            "object": obj,
            "oldObject": obj if operation == "UPDATE" else None,
            "dryRun": dry_run,
        },
    }

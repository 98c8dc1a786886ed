"""``kubereload demo`` processes and their HTTP answers."""

from __future__ import annotations

import http.client
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.process import KUBERELOAD, TIMEOUT, Proc


def demo_env(tmp_path: Path) -> dict[str, str]:
    """TMPDIR points into the test's own directory, so the shared demo volume is never touched."""
    return {**os.environ, "TMPDIR": str(tmp_path)}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A ``kubereload`` command run to its end."""
    return subprocess.run(
        [*KUBERELOAD, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    version: str | None  # the X-Config-Version header


class Demo(Proc):
    """``kubereload demo --port 0``, started once it listens."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        super().__init__([*KUBERELOAD, "demo", "--port", "0", *args], env=env)
        try:
            self.port = self.listening_port()
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}/"

    def get(self, path: str = "/") -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return Response(resp.status, resp.read().decode(), resp.getheader("X-Config-Version"))
        finally:
            conn.close()

"""``kubereload admission`` as a real process, its certificates, and AdmissionReviews."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubereload.admission.selfsigned import issue
from support.process import KUBERELOAD, Proc, free_port, metric_sum, wait_until


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


class Webhook(Proc):
    """``kubereload admission`` on free loopback ports, started once ``wait_for`` (a path of
    its status server) answers 200."""

    def __init__(
        self,
        tmp: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        wait_for: str = "/readyz",
    ) -> None:
        self.tls = tmp / "tls"
        self.ca = (
            write_certificate(self.tls)
            if not (self.tls / "tls.crt").exists()
            else self.tls / "ca.crt"
        )
        # two listeners: told their ports, so that each is known by its job
        self.port = free_port()
        self.status_port = free_port()
        super().__init__(
            [
                *KUBERELOAD, "admission",
                "--webhook-listen", f"127.0.0.1:{self.port}",
                "--listen", f"127.0.0.1:{self.status_port}",
                "--tls-cert-file", str(self.tls / "tls.crt"),
                "--tls-key-file", str(self.tls / "tls.key"),
                *args,
            ],
            env=env,
        )  # fmt: skip
        try:
            wait_until(lambda: self.answers(wait_for), 60, f"{self.url}: {wait_for} to answer 200")
        except BaseException:
            self.stop()
            raise

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
        return self._alive() and self.status(path)[0] == 200

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        return metric_sum(self.status("/metrics")[1], name, **labels)

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

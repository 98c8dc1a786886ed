"""Helpers for the controller tests: a controller process, objects, and waits on server state."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubeapi.server import KubeAPIServer

NS = "default"


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll a condition of the server's state until it holds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        pause.wait(0.02)


class ControllerProcess:
    """``kubereload controller`` as a real child process; its log is collected line by line."""

    def __init__(self, kubeconfig: Path, *flags: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("KUBECONFIG", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubereload",
                "controller",
                "--kubeconfig",
                str(kubeconfig),
                "--log-level",
                "info",
                "--stall-timeout",
                "5s",
                *flags,
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def log(self) -> str:
        with self._cond:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20.0, count: int = 1) -> re.Match[str]:
        """Wait until ``pattern`` has appeared ``count`` times in the log; the last match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [m for line in self.lines if (m := regex.search(line))]
                if len(matches) >= count:
                    return matches[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no {pattern!r} in the controller log:\n{self.log}")
                self._cond.wait(min(left, 0.5))

    def synced(self, count: int = 1) -> None:
        self.wait_for(r"compared \d+ workloads", count=count)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(15)
        self._reader.join(5)
        return code


def configmap(name: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "data": data,
    }


def secret(name: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
    import base64

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def workload(
    name: str,
    annotations: dict[str, str],
    *,
    kind: str = "Deployment",
    volumes: list[dict[str, Any]] | None = None,
    container: dict[str, Any] | None = None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [{"name": "app", "image": "busybox", **(container or {})}],
        "volumes": volumes or [],
    }
    if init:
        pod["initContainers"] = [{"name": "init", "image": "busybox", **init}]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
        },
    }


def cronjob(
    name: str, annotations: dict[str, str], *, volumes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A CronJob whose job template's pods use ``volumes``."""
    pod = {
        "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "busybox"}],
        "volumes": volumes or [],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {"template": {"metadata": {"labels": {"job": name}}, "spec": pod}}
            },
        },
    }


def cm_volume(name: str) -> list[dict[str, Any]]:
    return [{"name": "v", "configMap": {"name": name}}]


def template_hash(api: KubeAPIServer, name: str, kind: str = "Deployment") -> str | None:
    obj = api.get("apps/v1", kind, NS, name)
    assert obj is not None
    annotations = obj["spec"]["template"].get("metadata", {}).get("annotations") or {}
    return annotations.get("kubereload.io/config-hash")


def baseline_hash(api: KubeAPIServer, name: str, kind: str = "Deployment") -> str | None:
    obj = api.get("batch/v1" if kind == "CronJob" else "apps/v1", kind, NS, name)
    assert obj is not None
    return (obj["metadata"].get("annotations") or {}).get("kubereload.io/config-hash")


def events(api: KubeAPIServer, name: str, reason: str = "Reloaded") -> list[dict[str, Any]]:
    return [
        e
        for e in api.list("v1", "Event", NS)
        if e["involvedObject"]["name"] == name and e["reason"] == reason
    ]


def rollouts(api: KubeAPIServer, name: str) -> int:
    """Rollouts so far: the controller posts one Reloaded Event per rollout patch."""
    return len(events(api, name))


def update_data(api: KubeAPIServer, kind: str, name: str, data: dict[str, str]) -> None:
    obj = api.get("v1", kind, NS, name)
    assert obj is not None
    if kind == "Secret":
        import base64

        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        obj["data"] = data
    api.update(obj)

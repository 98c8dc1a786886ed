"""A test API server and `kubereload controller` processes run against it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rollout_helpers import ControllerProcess

from kubeapi.server import KubeAPIServer


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(api: KubeAPIServer, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def controllers(kubeconfig: Path) -> Iterator[Callable[..., ControllerProcess]]:
    started: list[ControllerProcess] = []

    def start(*flags: str) -> ControllerProcess:
        proc = ControllerProcess(kubeconfig, *flags)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)

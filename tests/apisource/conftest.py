"""Objects and helpers for the API source tests: the test server for faults, `cluster` for
behaviour that must hold on the test server and on the real kube-apiserver alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi.server import KubeAPIServer


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def api_kubeconfig(api: KubeAPIServer, tmp_path: Path) -> Path:
    """Namespace "default"."""
    return api.write_kubeconfig(tmp_path / "kubeconfig")

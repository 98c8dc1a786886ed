"""An in-process API server and a client for it, for the informer tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi.server import KubeAPIServer
from kubereload.kube.config import Cluster, load_config


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def cluster_config(api: KubeAPIServer, tmp_path: Path) -> Cluster:
    return load_config(api.write_kubeconfig(tmp_path / "kubeconfig"))

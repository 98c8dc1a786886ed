"""pytest fixtures: `kube_api`, `kubeconfig`, `cluster` (test server, or a real cluster in e2e).

Registered for every test folder by tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi.cluster import E2E_ENV, LocalCluster, RealCluster
from kubeapi.server import KubeAPIServer


@pytest.fixture
def kube_api() -> Iterator[KubeAPIServer]:
    """A started test API server (plain HTTP, token "test-token"), stopped after the test."""
    with KubeAPIServer() as server:
        yield server


@pytest.fixture
def kubeconfig(kube_api: KubeAPIServer, tmp_path: Path) -> Path:
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster | RealCluster]:
    """The test server with a fresh namespace; a real cluster when KUBERELOAD_E2E_KUBECONFIG
    is set. Needs kubectl (it drives both)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (it comes with google-cloud-cli)")
    real = os.environ.get(E2E_ENV)
    target: LocalCluster | RealCluster = (
        RealCluster(Path(real), tmp_path) if real else LocalCluster(tmp_path)
    )
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def faults(cluster: LocalCluster | RealCluster) -> KubeAPIServer:
    """The cluster's fault injection; skips against a real cluster, which has none."""
    if cluster.faults is None:
        pytest.skip(f"fault injection needs the in-process test server ({E2E_ENV} is set)")
    return cluster.faults

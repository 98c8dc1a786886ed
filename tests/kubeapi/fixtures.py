"""pytest fixtures: `kube_api`, `kubeconfig`, `control_plane`, `control_plane_namespace`,
`controller_manager`, `cluster` (test server and envtest, or a real cluster in e2e), `faults`.

Registered for every test folder by tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi.cluster import E2E_ENV, Cluster, EnvtestCluster, LocalCluster, RealCluster
from kubeapi.server import KubeAPIServer
from support.controlplane import ASSETS_ENV, ControlPlane, assets_dir, unavailable


@pytest.fixture
def kube_api() -> Iterator[KubeAPIServer]:
    """A started test API server (plain HTTP, token "test-token"), stopped after the test."""
    with KubeAPIServer() as server:
        yield server


@pytest.fixture
def kubeconfig(kube_api: KubeAPIServer, tmp_path: Path) -> Path:
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The real etcd + kube-apiserver, started once per session (skips unless KUBEBUILDER_ASSETS
    names the binaries). Tests share it: each works in its own namespace."""
    if os.environ.get(ASSETS_ENV) is None:
        pytest.skip(f"the real control plane needs {ASSETS_ENV} (.ci/run sets it)")
    reason = unavailable()
    if reason is not None:  # asked for, but broken: that is a failure, not a skip
        pytest.fail(f"{ASSETS_ENV} is set, but {reason}")
    assets = assets_dir()
    assert assets is not None
    with ControlPlane(tmp_path_factory.mktemp("controlplane"), assets=assets) as plane:
        yield plane


@pytest.fixture
def control_plane_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace on the control plane, deleted after the test."""
    name = f"envtest-{uuid.uuid4().hex[:8]}"
    control_plane.create_namespace(name)
    yield name
    control_plane.delete_namespace(name)


@pytest.fixture
def controller_manager(control_plane: ControlPlane) -> ControlPlane:
    """The control plane with the real kube-controller-manager running (started on first use,
    then kept for the session): template changes make ReplicaSets, and so on."""
    control_plane.start_controller_manager()
    return control_plane


def _cluster_kinds() -> list[str]:
    return ["e2e"] if os.environ.get(E2E_ENV) else ["kubeapi", "envtest"]


@pytest.fixture(params=_cluster_kinds())
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh namespace on the test server and on the envtest control plane (each test runs
    on both); on a real cluster instead when KUBERELOAD_E2E_KUBECONFIG is set. Needs kubectl
    (it drives all of them)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (it comes with google-cloud-cli)")
    target: Cluster
    if request.param == "e2e":
        target = RealCluster(Path(os.environ[E2E_ENV]), tmp_path)
    elif request.param == "envtest":
        target = EnvtestCluster(request.getfixturevalue("control_plane"), tmp_path)
    else:
        target = LocalCluster(tmp_path)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def faults(cluster: Cluster) -> KubeAPIServer:
    """The cluster's fault injection; skips on a real API server, which has none."""
    if cluster.faults is None:
        pytest.skip("fault injection needs the in-process test server")
    return cluster.faults

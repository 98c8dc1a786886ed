"""The pytest fixtures every test folder can use (registered by ``tests/conftest.py``).

- ``api``: a started test API server (plain HTTP, token "test-token", a bookmark every 0.2 s);
- ``kubeconfig`` and ``cluster_config``: a kubeconfig file for ``api``, and it loaded;
- ``control_plane`` (real etcd + kube-apiserver, once a session), ``control_plane_namespace``,
  ``controller_manager``;
- ``cluster``: a fresh namespace on the test server and on the control plane (each test runs
  on both), or on a real cluster (e2e); ``faults``;
- ``receiver``: a local webhook receiver;
- ``controllers``: start ``kubereload controller`` processes against ``api``;
- ``start_demo``: start ``kubereload demo`` processes.

Every process a fixture starts is stopped after the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubeapi.cluster import E2E_ENV, Cluster, EnvtestCluster, LocalCluster, RealCluster
from kubeapi.server import KubeAPIServer
from kubereload.kube.config import Cluster as ClusterConfig
from kubereload.kube.config import load_config
from support.controller import Controller
from support.controlplane import ASSETS_ENV, ControlPlane, assets_dir, unavailable
from support.demo import Demo
from support.webhook import Receiver


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(api: KubeAPIServer, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def cluster_config(kubeconfig: Path) -> ClusterConfig:
    return load_config(kubeconfig)


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


StartController = Callable[..., Controller]


@pytest.fixture
def controllers(kubeconfig: Path) -> Iterator[StartController]:
    """``controllers(*flags)`` starts one; the n-th gets the Lease identity ``controller-n``."""
    started: list[Controller] = []

    def start(*flags: str) -> Controller:
        proc = Controller(kubeconfig, *flags, name=f"controller-{len(started) + 1}")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)


@pytest.fixture
def start_demo() -> Iterator[type[Demo]]:
    """Start demos with ``start_demo(args, env)``; any still running are stopped afterwards."""
    started: list[Demo] = []

    class Tracked(Demo):
        def __init__(self, args: list[str], env: dict[str, str]) -> None:
            super().__init__(args, env)
            started.append(self)

    yield Tracked
    for demo in started:
        demo.stop(signal.SIGKILL)

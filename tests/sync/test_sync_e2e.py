"""``kubereload sync`` against the `cluster` fixture: the test server over TLS, or a real
cluster when KUBERELOAD_E2E_KUBECONFIG is set (changes made with kubectl there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeapi.cluster import Cluster
from kubereload.volume import read_snapshot
from support.objects import configmap
from support.process import kubereload
from support.webhook import Receiver

pytestmark = pytest.mark.e2e


def test_once_then_live_sync_then_webhook(
    cluster: Cluster, receiver: Receiver, tmp_path: Path
) -> None:
    cluster.create(configmap("e2e-app", {"app.yaml": "v: 1\n"}, namespace=None))
    ref = f"{cluster.namespace}/e2e-app"
    init = kubereload(
        "sync",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--once",
        "--configmap",
        ref,
        "--dir",
        str(tmp_path / "init"),
    )
    assert init.wait(60) == 0, init.output()
    assert read_snapshot(tmp_path / "init").files == {"app.yaml": b"v: 1\n"}

    target = tmp_path / "live"
    proc = kubereload(
        "sync",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--configmap",
        ref,
        "--dir",
        str(target),
        "--webhook",
        receiver.url,
    )
    try:
        receiver.wait_calls(1, timeout=60)
        current = cluster.get("v1", "ConfigMap", None, "e2e-app")
        assert current is not None
        current["data"] = {"app.yaml": "v: 2\n"}
        cluster.update(current)
        receiver.wait_calls(2, timeout=60)
        assert read_snapshot(target).files == {"app.yaml": b"v: 2\n"}
    finally:
        proc.stop()
    assert proc.popen.returncode == 0

"""`kubereload sync` on the real kube-apiserver as the identity deploy/sync/rbac-named.yaml
grants: get/list/watch on one ConfigMap by resourceNames, nothing else."""

from __future__ import annotations

from pathlib import Path

from kubereload.volume import read_snapshot
from support.controlplane import ControlPlane, role_rules
from support.process import kubereload, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_sync_of_a_named_configmap_needs_only_its_resource_name(
    control_plane: ControlPlane, control_plane_namespace: str, tmp_path: Path
) -> None:
    plane, ns = control_plane, control_plane_namespace
    rules = role_rules(ROOT / "deploy" / "sync" / "rbac-named.yaml")
    assert rules[0]["resourceNames"] == ["app-config"]
    identity = plane.identity("app-config-sync", ns, rules)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    plane.ok("POST", path, {"metadata": {"name": "app-config"}, "data": {"app.yaml": "v: 1\n"}})
    plane.ok("POST", path, {"metadata": {"name": "other"}, "data": {"x": "y"}})

    kubeconfig = str(identity.kubeconfig)
    once = kubereload(
        "sync",
        "--kubeconfig",
        kubeconfig,
        "--once",
        "--configmap",
        "app-config",
        "--dir",
        str(tmp_path / "init"),
    )
    assert once.wait(60) == 0, once.output()
    assert dict(read_snapshot(tmp_path / "init").files) == {"app.yaml": b"v: 1\n"}

    denied = kubereload(
        "sync",
        "--kubeconfig",
        kubeconfig,
        "--once",
        "--configmap",
        "other",
        "--dir",
        str(tmp_path / "denied"),
    )
    assert denied.wait(60) == 1
    assert "403" in denied.output()

    live = kubereload(
        "sync",
        "--kubeconfig",
        kubeconfig,
        "--configmap",
        "app-config",
        "--dir",
        str(tmp_path / "live"),
    )
    try:
        wait_until((tmp_path / "live" / "..data").exists, timeout=60)
        plane.ok(
            "PUT",
            f"{path}/app-config",
            {"metadata": {"name": "app-config"}, "data": {"app.yaml": "v: 2\n"}},
        )
        wait_until(
            lambda: dict(read_snapshot(tmp_path / "live").files) == {"app.yaml": b"v: 2\n"},
            timeout=60,
        )
    finally:
        live.stop()
    assert live.popen.returncode == 0, live.output()

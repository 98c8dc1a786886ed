"""The real control plane the envtest tier runs on: RBAC identities that are least-privilege
in fact (the real authorizer says so), and an admin kubeconfig kubectl and kubereload accept."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from support import controlplane
from support.controlplane import ControlPlane, free_port

READ_CONFIGMAPS = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]


def kubectl_as(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "--request-timeout=30s", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_identity_may_do_what_its_role_says_and_nothing_else(
    control_plane: ControlPlane, control_plane_namespace: str
) -> None:
    ns = control_plane_namespace
    control_plane.kubectl("-n", ns, "create", "configmap", "app", "--from-literal=k=v")
    control_plane.kubectl("-n", ns, "create", "secret", "generic", "pw", "--from-literal=p=x")
    reader = control_plane.identity("reader", ns, READ_CONFIGMAPS)

    got = kubectl_as(str(reader.kubeconfig), "-n", ns, "get", "configmap", "app", "-o", "name")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "configmap/app"
    for forbidden in (("get", "secret", "pw"), ("delete", "configmap", "app")):
        denied = kubectl_as(str(reader.kubeconfig), "-n", ns, *forbidden)
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr
    elsewhere = kubectl_as(str(reader.kubeconfig), "-n", "default", "get", "configmaps")
    assert "Forbidden" in elsewhere.stderr


def test_a_port_taken_before_the_api_server_binds_it_means_new_ports_not_a_failure(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight test runs share this machine: a port found free can be gone a moment later."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])  # the first port asked for: the API server's
    monkeypatch.setattr(controlplane, "free_port", lambda: next(ports, 0) or free_port())
    try:
        with ControlPlane(tmp_path / "plane", assets=control_plane.assets) as plane:
            assert plane.api_port != taken.getsockname()[1]
            # a list answers as soon as the server is ready (the "default" namespace itself is
            # made a moment later by the server's bootstrap controller: a 404 in that window)
            assert plane.request("GET", "/api/v1/namespaces")[0] == 200
    finally:
        taken.close()

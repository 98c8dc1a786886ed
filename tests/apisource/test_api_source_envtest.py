"""The API source on the real kube-apiserver (envtest): the documented Role is enough and no
more, and an API server restart is survived (410 on resume, relist, exact diff)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import kubereload
from kubereload import Config, ConfigError
from support.controlplane import ControlPlane
from support.objects import configmap, secret

WAIT = 60.0
ROLE = Path(__file__).parents[2] / "deploy" / "in-app" / "rbac.yaml"


def documented_rules() -> list[dict[str, Any]]:
    (role,) = [d for d in yaml.safe_load_all(ROLE.read_text()) if d["kind"] == "Role"]
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def patch_data(plane: ControlPlane, namespace: str, name: str, data: dict[str, str]) -> str:
    path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
    out = plane.ok("PATCH", path, {"data": data}, content_type="application/merge-patch+json")
    return str(out["metadata"]["resourceVersion"])


def create(plane: ControlPlane, namespace: str, obj: dict[str, Any]) -> None:
    plural = "configmaps" if obj["kind"] == "ConfigMap" else "secrets"
    plane.ok("POST", f"/api/v1/namespaces/{namespace}/{plural}", obj)


def test_the_documented_role_is_enough_and_nothing_more(
    control_plane: ControlPlane, control_plane_namespace: str, tmp_path: Path
) -> None:
    ns = control_plane_namespace
    create(
        control_plane, ns, configmap("app-config", {"app.yaml": "level: info\n"}, namespace=None)
    )
    create(control_plane, ns, secret("app-secrets", {"token": b"abc"}, namespace=None))
    create(control_plane, ns, configmap("other", {"app.yaml": "level: info\n"}, namespace=None))
    app = control_plane.identity("app", ns, documented_rules())

    # No namespace given: the kubeconfig's (in a pod, the service account's) is used.
    with kubereload.watch_configmap(
        "app-config", key="app.yaml", kubeconfig=app.kubeconfig
    ) as config:
        assert config.get() == {"level": "info"}
        version = patch_data(control_plane, ns, "app-config", {"app.yaml": "level: debug\n"})
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)
        assert config.get() == {"level": "debug"}
        with kubereload.watch_secret("app-secrets", key="token", kubeconfig=app.kubeconfig) as sec:
            assert sec.get() == "abc"

    with pytest.raises(ConfigError, match="403 Forbidden") as refused:
        kubereload.watch_configmap("other", kubeconfig=app.kubeconfig)
    assert "no answer" not in str(refused.value)  # refused at once, not after the timeout


def test_an_api_server_restart_is_survived_with_every_version_once(
    control_plane: ControlPlane, control_plane_namespace: str, tmp_path: Path
) -> None:
    ns = control_plane_namespace
    create(control_plane, ns, configmap("app", {"app.yaml": "n: 0\n"}, namespace=None))
    kubeconfig = control_plane.write_kubeconfig(tmp_path / "kubeconfig", namespace=ns)
    values: list[int] = []
    with kubereload.watch_configmap("app", key="app.yaml", kubeconfig=kubeconfig) as config:
        versions: list[int] = []

        def record(_old: Any, new: Any, config: Config[Any] = config) -> None:
            values.append(new["n"])
            versions.append(int(config.version or 0))

        config.on_change(record)
        for n in range(1, 6):
            version = patch_data(control_plane, ns, "app", {"app.yaml": f"n: {n}\n"})
        control_plane.stop_apiserver()
        assert config.wait_until(lambda c: "disconnected" in str(c.health()), WAIT)
        assert config.get()["n"] in range(6)  # the last good value is served throughout
        control_plane.start_apiserver()
        for n in range(6, 11):
            version = patch_data(control_plane, ns, "app", {"app.yaml": f"n: {n}\n"})
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)
        assert config.error is None and config.health() is None
    assert values == sorted(set(values)) and values[-1] == 10
    assert versions == sorted(set(versions))


def test_the_in_app_manifests_are_accepted_by_a_real_api_server(
    control_plane: ControlPlane,
) -> None:
    done = control_plane.kubectl("apply", "--dry-run=server", "-f", str(ROLE.parent))
    assert (
        "role.rbac.authorization.k8s.io/app-config-reader created (server dry run)" in done.stdout
    )
    assert "deployment.apps/kubereload-demo-api created (server dry run)" in done.stdout

"""Fidelity: the real kubectl binary drives the server (or a real cluster, in e2e mode)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from kubeapi.cluster import LocalCluster, RealCluster
from kubeapi.server import KubeAPIServer
from support.objects import configmap

pytestmark = pytest.mark.e2e

Cluster = LocalCluster | RealCluster


def deployment(image: str = "nginx:1.25", env: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "env": [{"name": "A", "value": env}]}
                    ]
                },
            },
        },
    }


def apply(cluster: Cluster, *objects: dict[str, Any]) -> str:
    manifest = yaml.safe_dump_all(objects)
    return cluster.kubectl.run("apply", "-n", cluster.namespace, "-f", "-", input=manifest).stdout


def test_apply_creates_then_updates_and_reports_unchanged(cluster: Cluster) -> None:
    out = apply(cluster, deployment(), configmap("cfg", {"a": "1"}, namespace=None))
    assert "deployment.apps/web created" in out and "configmap/cfg created" in out
    created = cluster.get("apps/v1", "Deployment", None, "web")
    assert created is not None
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["namespace"] == cluster.namespace

    out = apply(
        cluster, deployment(image="nginx:1.26"), configmap("cfg", {"a": "2"}, namespace=None)
    )
    assert "deployment.apps/web configured" in out and "configmap/cfg configured" in out
    updated = cluster.get("apps/v1", "Deployment", None, "web")
    assert updated is not None
    assert updated["metadata"]["generation"] == 2
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    cm = cluster.get("v1", "ConfigMap", None, "cfg")
    assert cm is not None and cm["data"] == {"a": "2"}
    assert "generation" not in cm["metadata"]

    out = apply(
        cluster, deployment(image="nginx:1.26"), configmap("cfg", {"a": "2"}, namespace=None)
    )
    assert "deployment.apps/web unchanged" in out and "configmap/cfg unchanged" in out
    again = cluster.get("v1", "ConfigMap", None, "cfg")  # no controller writes it, unlike status
    assert again is not None
    assert again["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]


def test_apply_removes_what_the_manifest_no_longer_has(cluster: Cluster) -> None:
    apply(cluster, configmap("cfg", {"a": "1", "b": "2"}, namespace=None, labels={"team": "x"}))
    apply(cluster, configmap("cfg", {"a": "1"}, namespace=None))
    cm = cluster.get("v1", "ConfigMap", None, "cfg")
    assert cm is not None
    assert cm["data"] == {"a": "1"}
    assert "team" not in (cm["metadata"].get("labels") or {})


def test_get_json_and_label_selectors(cluster: Cluster) -> None:
    apply(
        cluster,
        configmap("one", {"k": "1"}, namespace=None, labels={"app": "web", "tier": "front"}),
        configmap("two", {"k": "2"}, namespace=None, labels={"app": "web"}),
        configmap("three", {"k": "3"}, namespace=None, labels={"app": "db"}),
    )
    kubectl, ns = cluster.kubectl, cluster.namespace

    def names(selector: str) -> list[str]:
        listed = kubectl.json("get", "configmaps", "-n", ns, "-l", selector)
        assert listed["kind"] == "List" or listed["kind"] == "ConfigMapList"
        return sorted(item["metadata"]["name"] for item in listed["items"])

    assert names("app=web") == ["one", "two"]
    assert names("app==web,tier") == ["one"]
    assert names("app!=web") == ["three"]
    assert names("app in (db, web),!tier") == ["three", "two"]
    assert names("app notin (web)") == ["three"]
    got = kubectl.json("get", "configmap", "two", "-n", ns)
    assert got["data"] == {"k": "2"} and got["metadata"]["labels"] == {"app": "web"}
    missing = kubectl.run("get", "configmap", "nope", "-n", ns, check=False)
    assert missing.returncode != 0
    assert 'configmaps "nope" not found' in missing.stderr


def test_patch_merge_json_and_strategic(cluster: Cluster) -> None:
    apply(cluster, deployment(), configmap("cfg", {"a": "1", "b": "2"}, namespace=None))
    kubectl, ns = cluster.kubectl, cluster.namespace

    kubectl.run("patch", "configmap", "cfg", "-n", ns, "--type", "merge",
                "-p", '{"data": {"b": null, "c": "3"}}')  # fmt: skip
    cm = cluster.get("v1", "ConfigMap", None, "cfg")
    assert cm is not None and cm["data"] == {"a": "1", "c": "3"}

    kubectl.run("patch", "configmap", "cfg", "-n", ns, "--type", "json",
                "-p", '[{"op": "replace", "path": "/data/a", "value": "9"}]')  # fmt: skip
    cm = cluster.get("v1", "ConfigMap", None, "cfg")
    assert cm is not None and cm["data"] == {"a": "9", "c": "3"}

    failed = kubectl.run("patch", "configmap", "cfg", "-n", ns, "--type", "json",
                         "-p", '[{"op": "test", "path": "/data/a", "value": "1"}]',
                         check=False)  # fmt: skip
    assert failed.returncode != 0

    sidecar = {"name": "side", "image": "busybox", "env": [{"name": "B", "value": "2"}]}
    patch = {"spec": {"template": {"spec": {"containers": [
        sidecar, {"name": "app", "env": [{"name": "A", "value": "changed"}]}
    ]}}}}  # fmt: skip
    kubectl.run("patch", "deployment", "web", "-n", ns, "--type", "strategic",
                "-p", json.dumps(patch))  # fmt: skip
    deploy = cluster.get("apps/v1", "Deployment", None, "web")
    assert deploy is not None
    containers = {c["name"]: c for c in deploy["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "side"}
    assert containers["app"]["image"] == "nginx:1.25"  # merged by name, not replaced
    assert containers["app"]["env"] == [{"name": "A", "value": "changed"}]
    assert deploy["metadata"]["generation"] == 2

    remove = {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "$patch": "delete"}
    ]}}}}  # fmt: skip
    kubectl.run("patch", "deployment", "web", "-n", ns, "-p", json.dumps(remove))
    deploy = cluster.get("apps/v1", "Deployment", None, "web")
    assert deploy is not None
    assert [c["name"] for c in deploy["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_rollout_restart_sets_the_annotation_and_bumps_generation(cluster: Cluster) -> None:
    apply(cluster, deployment())
    before = cluster.get("apps/v1", "Deployment", None, "web")
    assert before is not None
    out = cluster.kubectl.run("rollout", "restart", "deployment/web", "-n", cluster.namespace)
    assert "deployment.apps/web restarted" in out.stdout
    after = cluster.get("apps/v1", "Deployment", None, "web")
    assert after is not None
    annotations = after["spec"]["template"]["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_delete_removes_the_object(cluster: Cluster) -> None:
    apply(cluster, configmap("gone", {"a": "1"}, namespace=None))
    out = cluster.kubectl.run("delete", "configmap", "gone", "-n", cluster.namespace)
    assert 'configmap "gone" deleted' in out.stdout
    assert cluster.get("v1", "ConfigMap", None, "gone") is None
    again = cluster.kubectl.run("delete", "configmap", "gone", "-n", cluster.namespace, check=False)
    assert again.returncode != 0 and "NotFound" in again.stderr


def test_create_configmap_from_literals(cluster: Cluster) -> None:
    cluster.kubectl.run("create", "configmap", "lit", "-n", cluster.namespace,
                        "--from-literal=a=1", "--from-literal=b=two words")  # fmt: skip
    cm = cluster.get("v1", "ConfigMap", None, "lit")
    assert cm is not None and cm["data"] == {"a": "1", "b": "two words"}
    dup = cluster.kubectl.run("create", "configmap", "lit", "-n", cluster.namespace, check=False)
    assert dup.returncode != 0 and 'configmaps "lit" already exists' in dup.stderr


def test_secrets_store_data_as_base64_and_never_return_string_data(cluster: Cluster) -> None:
    cluster.kubectl.run("create", "secret", "generic", "sec", "-n", cluster.namespace,
                        "--from-literal=password=hunter2")  # fmt: skip
    secret = cluster.kubectl.json("get", "secret", "sec", "-n", cluster.namespace)
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"

    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sec"},
        "stringData": {"token": "s3cr3t"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    apply(cluster, manifest)
    secret = cluster.kubectl.json("get", "secret", "sec", "-n", cluster.namespace)
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["token"]) == b"s3cr3t"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"


def test_rollout_status_follows_the_workload_status(
    cluster: Cluster, faults: KubeAPIServer
) -> None:
    apply(cluster, deployment())
    ns = cluster.namespace
    waiting = cluster.kubectl.run(
        "rollout", "status", "deployment/web", "-n", ns, "--timeout=1s", check=False
    )
    assert waiting.returncode != 0
    faults.complete_rollout("apps/v1", "Deployment", ns, "web")
    done = cluster.kubectl.run("rollout", "status", "deployment/web", "-n", ns, "--timeout=5s")
    assert "successfully rolled out" in done.stdout
    for kind in ("StatefulSet", "DaemonSet"):
        apply(cluster, {**deployment(), "kind": kind})
        faults.complete_rollout("apps/v1", kind, ns, "web")
        target = f"{kind.lower()}/web"
        done = cluster.kubectl.run("rollout", "status", target, "-n", ns, "--timeout=5s")
        assert "roll" in done.stdout, done.stdout  # "rolling update complete", "rolled out"

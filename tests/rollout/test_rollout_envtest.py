"""`kubereload controller` on the real control plane, as the least-privilege identity that
deploy/controller/namespaced/role.yaml grants, with the real kube-controller-manager: a
ConfigMap change makes the Deployment controller start a new ReplicaSet, as in a cluster."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from support.controller import HASH, Controller
from support.controlplane import ControlPlane, role_rules
from support.objects import unscheduled_deployment
from support.process import wait_until

ROOT = Path(__file__).resolve().parents[2]


def refused_by_rbac(output: str) -> bool:
    """Whether the log shows the API server refusing the controller: "Forbidden", or a 403 status.

    403 is matched as a whole number, so a port such as 34031 in a URL does not count.
    """
    return "Forbidden" in output or re.search(r"(?<![\d.:])403(?!\d)", output) is not None


def replica_sets(plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    listed = plane.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets")
    items: list[dict[str, Any]] = listed["items"]
    return items


def test_a_configmap_change_makes_a_new_replicaset_with_the_documented_rbac(
    controller_manager: ControlPlane, control_plane_namespace: str
) -> None:
    plane, ns = controller_manager, control_plane_namespace
    rules = role_rules(ROOT / "deploy" / "controller" / "namespaced" / "role.yaml")
    identity = plane.identity("kubereload-controller", ns, rules)
    plane.ok(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "cfg"}, "data": {"LEVEL": "info"}},
    )
    plane.ok(
        "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", unscheduled_deployment("web", "cfg")
    )
    first = wait_until(lambda: replica_sets(plane, ns), timeout=60, what="the first ReplicaSet")
    assert len(first) == 1

    controller = Controller(identity.kubeconfig, "--namespace", ns, "--debounce", "0s")
    try:
        wait_until(lambda: controller.adopted(1), timeout=60, what="the workload adopted")
        assert len(replica_sets(plane, ns)) == 1  # adopting the workload rolled nothing
        plane.ok(
            "PUT",
            f"/api/v1/namespaces/{ns}/configmaps/cfg",
            {"metadata": {"name": "cfg"}, "data": {"LEVEL": "debug"}},
        )
        rolled = wait_until(
            lambda: len(replica_sets(plane, ns)) == 2 and replica_sets(plane, ns),
            timeout=60,
            what="a second ReplicaSet",
        )
        assert rolled
    finally:
        controller.stop(signal.SIGTERM)
    assert not refused_by_rbac(controller.output())


def cronjob(name: str, configmap: str) -> dict[str, Any]:
    pod = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "job",
                "image": "registry.k8s.io/pause:3.9",
                "envFrom": [{"configMapRef": {"name": configmap}}],
            }
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "annotations": {"reloader.stakater.com/auto": "true"}},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": pod}}},
        },
    }


def test_a_cronjob_job_template_is_patched_on_the_real_api_server(
    control_plane: ControlPlane, control_plane_namespace: str
) -> None:
    """The strategic merge patch reaches spec.jobTemplate.spec.template on the real server,
    with the documented RBAC; a deletion (Reloader's default) rolls nothing."""
    plane, ns = control_plane, control_plane_namespace
    rules = role_rules(ROOT / "deploy" / "controller" / "namespaced" / "role.yaml")
    identity = plane.identity("kubereload-controller", ns, rules)
    configmaps = f"/api/v1/namespaces/{ns}/configmaps"
    plane.ok("POST", configmaps, {"metadata": {"name": "cfg"}, "data": {"LEVEL": "info"}})
    plane.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "other"}})
    plane.ok("POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("report", "cfg"))
    plane.ok("POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("probe", "other"))
    path = f"/apis/batch/v1/namespaces/{ns}/cronjobs"

    def template_hash(name: str) -> str | None:
        obj = plane.ok("GET", f"{path}/{name}")
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
        return ((template.get("metadata") or {}).get("annotations") or {}).get(HASH)

    controller = Controller(identity.kubeconfig, "--namespace", ns, "--debounce", "0s")
    try:
        wait_until(lambda: controller.adopted(2), timeout=60, what="adoption")
        plane.ok("PUT", f"{configmaps}/cfg", {"metadata": {"name": "cfg"}, "data": {"L": "d"}})
        first = wait_until(lambda: template_hash("report"), timeout=60, what="template patched")
        assert plane.ok("GET", f"{path}/report")["spec"]["schedule"] == "0 3 * * *"
        jobs = plane.ok("GET", f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]
        assert jobs == []  # nothing out of schedule
        plane.ok("DELETE", f"{configmaps}/cfg")
        # the next change elsewhere shows the deletion was seen: it rolled nothing
        plane.ok("PUT", f"{configmaps}/other", {"metadata": {"name": "other"}, "data": {"x": "1"}})
        wait_until(lambda: template_hash("probe"), timeout=60, what="the probe rolled")
        assert template_hash("report") == first
    finally:
        controller.stop(signal.SIGTERM)
    assert not refused_by_rbac(controller.output())

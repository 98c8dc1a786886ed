"""The controller against the `cluster` fixture: the test server over TLS, or a real cluster
when KUBERELOAD_E2E_KUBECONFIG is set (objects made and changed through the API there)."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from kubeapi.cluster import Cluster
from support.controller import Controller
from support.objects import unscheduled_deployment
from support.process import wait_until

pytestmark = pytest.mark.e2e
HASH = "kubereload.io/config-hash"


def hashes(cluster: Cluster, name: str) -> tuple[str | None, str | None]:
    """(hash recorded on the workload's metadata, hash on its pod template)."""
    obj = cluster.get("apps/v1", "Deployment", None, name)
    assert obj is not None
    meta = (obj["metadata"].get("annotations") or {}).get(HASH)
    template = (obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    return meta, template.get(HASH)


def reloaded_events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in cluster.list("v1", "Event")
        if e["involvedObject"]["name"] == name and e["reason"] == "Reloaded"
    ]


def test_a_configmap_change_rolls_its_deployment_and_a_restart_rolls_nothing(
    cluster: Cluster,
) -> None:
    ns = cluster.namespace
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "e2e-cfg"},
            "data": {"LEVEL": "info"},
        }
    )
    cluster.create(unscheduled_deployment("e2e-web", "e2e-cfg"))
    flags = ("--namespace", ns, "--debounce", "0s")
    first = Controller(cluster.kubeconfig, *flags)
    try:
        wait_until(lambda: first.adopted(1), timeout=60, what="the Deployment adopted")
        assert hashes(cluster, "e2e-web") == (None, None)  # adopting writes and restarts nothing

        cm = cluster.get("v1", "ConfigMap", None, "e2e-cfg")
        assert cm is not None
        cm["data"] = {"LEVEL": "verbose-e2e-7f3a"}
        cluster.update(cm)
        rolled = wait_until(
            lambda: hashes(cluster, "e2e-web")[1], timeout=60, what="the pod template patched"
        )
        assert rolled is not None
        # the Event follows the log line: once it is there, so is the line
        wait_until(lambda: reloaded_events(cluster, "e2e-web"), timeout=60, what="the Event")
    finally:
        first.stop(signal.SIGTERM)
    said = first.output()
    assert f"rolled Deployment {ns}/e2e-web because ConfigMap e2e-cfg changed" in said
    assert "verbose-e2e-7f3a" not in said  # ConfigMap values never logged

    second = Controller(cluster.kubeconfig, *flags)
    try:
        # its verdict (nothing to roll) is only in its words
        second.wait_logged(r"compared 1 workloads: 0 to roll, 0 new", timeout=60)
        assert hashes(cluster, "e2e-web")[1] == rolled
    finally:
        second.stop(signal.SIGTERM)

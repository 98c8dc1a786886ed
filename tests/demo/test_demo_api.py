"""``kubereload demo --configmap``: the demo service reading its ConfigMap straight from the API
server (the test server and the real kube-apiserver), healthy only while connected."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from kubeapi.cluster import Cluster
from support.demo import Demo, Response, demo_env

WAIT = 30.0


def until(demo: Demo, path: str, done: Callable[[Response], bool]) -> Response:
    """Ask again until the answer is the one awaited (the state itself), or fail after WAIT."""
    deadline = time.monotonic() + WAIT
    while True:
        answer = demo.get(path)
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_the_demo_serves_a_configmap_from_the_api(
    cluster: Cluster, tmp_path: Path, start_demo: type[Demo]
) -> None:
    created = cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "demo-config"},
            "data": {"config.yaml": "message: Hello\n"},
        }
    )
    demo = start_demo(
        [
            "--configmap", "demo-config", "--namespace", cluster.namespace,
            "--kubeconfig", str(cluster.kubeconfig),
        ],
        demo_env(tmp_path),
    )  # fmt: skip
    first = demo.get("/")
    assert (first.status, first.body) == (200, "Hello\n")
    assert first.version == created["metadata"]["resourceVersion"]
    demo.wait_logged("straight from the API server")  # it says where its config comes from
    assert demo.get("/healthz").status == 200

    patch = {"data": {"config.yaml": "message: Hello Grandma\n"}}
    cluster.kubectl.run(
        "patch", "configmap", "demo-config", "-n", cluster.namespace, "--type=merge",
        "-p", json.dumps(patch),
    )  # fmt: skip
    assert until(demo, "/", lambda r: r.body == "Hello Grandma\n").body == "Hello Grandma\n"

    if cluster.faults is not None:  # the test server can take the API away on demand
        cluster.faults.fail_next(1_000_000, 503)
        cluster.faults.drop_watches()
        down = until(demo, "/healthz", lambda r: r.status == 503)
        assert down.status == 503 and "disconnected from the API server" in down.body
        assert demo.get("/").body == "Hello Grandma\n"
        cluster.faults.clear_faults()
        assert until(demo, "/healthz", lambda r: r.status == 200).status == 200
    assert demo.stop() == 0

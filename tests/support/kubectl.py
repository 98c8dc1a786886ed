"""Changes made with the real ``kubectl``, as a user makes them."""

from __future__ import annotations

import json

from kubeapi.cluster import Cluster


def kubectl_patch(cluster: Cluster, kind: str, name: str, data: dict[str, str]) -> str:
    """PATCH ``data`` with the real kubectl; returns the object's new resourceVersion."""
    out = cluster.kubectl.json(
        "patch", kind, name, "-n", cluster.namespace, "--type=merge",
        "-p", json.dumps({"data": data}),
    )  # fmt: skip
    return str(out["metadata"]["resourceVersion"])

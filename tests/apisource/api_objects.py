"""Builders for the ConfigMaps and Secrets these tests watch, and a PATCH through kubectl."""

from __future__ import annotations

import base64
import json
from typing import Any

from kubeapi.cluster import Cluster


def _metadata(name: str, namespace: str | None) -> dict[str, str]:
    """Without a namespace, ``cluster.create`` puts the object in the test's own."""
    return {"name": name} if namespace is None else {"name": name, "namespace": namespace}


def configmap(name: str, data: dict[str, str], namespace: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, namespace),
        "data": data,
    }


def secret(name: str, data: dict[str, bytes], namespace: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace),
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def kubectl_patch(cluster: Cluster, kind: str, name: str, data: dict[str, str]) -> str:
    """PATCH ``data`` with the real kubectl; returns the object's new resourceVersion."""
    out = cluster.kubectl.json(
        "patch", kind, name, "-n", cluster.namespace, "--type=merge",
        "-p", json.dumps({"data": data}),
    )  # fmt: skip
    return str(out["metadata"]["resourceVersion"])

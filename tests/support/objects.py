"""Kubernetes objects as the API server takes them: ConfigMaps, Secrets, workloads."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

NS = "default"


def metadata(
    name: str,
    namespace: str | None,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
) -> dict[str, Any]:
    """``namespace=None`` leaves it out, for a client that sets it (``kubectl -n``, a cluster)."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def configmap(
    name: str,
    data: Mapping[str, str],
    *,
    namespace: str | None = NS,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, namespace, labels, annotations),
        "data": dict(data),
    }


def encoded(data: Mapping[str, str | bytes]) -> dict[str, str]:
    """A Secret's ``data``: each value base64-encoded (text as UTF-8)."""
    return {
        key: base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
        for key, value in data.items()
    }


def secret(
    name: str,
    data: Mapping[str, str | bytes],
    *,
    namespace: str | None = NS,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, labels, annotations),
        "data": encoded(data),
    }


def workload(
    name: str,
    annotations: Mapping[str, str],
    *,
    kind: str = "Deployment",
    namespace: str | None = NS,
    volumes: list[dict[str, Any]] | None = None,
    container: dict[str, Any] | None = None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Deployment (or StatefulSet, DaemonSet) whose one container is ``app``."""
    pod: dict[str, Any] = {
        "containers": [{"name": "app", "image": "busybox", **(container or {})}],
        "volumes": volumes or [],
    }
    if init:
        pod["initContainers"] = [{"name": "init", "image": "busybox", **init}]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata(name, namespace, None, annotations),
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
        },
    }


def unscheduled_deployment(name: str, configmap: str) -> dict[str, Any]:
    """A Deployment of no replicas whose pod takes its env from ``configmap``: a real cluster
    rolls its template without scheduling a pod."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"reloader.stakater.com/auto": "true"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.k8s.io/pause:3.9",
                            "envFrom": [{"configMapRef": {"name": configmap}}],
                        }
                    ]
                },
            },
        },
    }


def cronjob(
    name: str,
    annotations: Mapping[str, str],
    *,
    namespace: str | None = NS,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A CronJob whose job template's pods use ``volumes``."""
    pod = {
        "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "busybox"}],
        "volumes": volumes or [],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name, namespace, None, annotations),
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {"template": {"metadata": {"labels": {"job": name}}, "spec": pod}}
            },
        },
    }


def cm_volume(name: str) -> list[dict[str, Any]]:
    """The ``volumes`` of a pod that mounts ConfigMap ``name``."""
    return [{"name": "v", "configMap": {"name": name}}]

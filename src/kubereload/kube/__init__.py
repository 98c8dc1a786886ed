"""The Kubernetes API, and the only HTTP layer to it: which cluster and credentials, a client by
verb whose errors are kubereload's own, informers that mirror a kind, the leader Lease, and
ConfigMap/Secret data decoded once.

The names below are loaded on first use (PEP 562): importing one submodule, as the library's API
source imports ``kube.config`` and ``kube.data``, must not load the async HTTP client (httpx2,
asyncio) that ``KubeClient`` and the informer need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubereload.kube.client import KubeClient
    from kubereload.kube.config import (
        Cluster,
        Credentials,
        KubeConfigError,
        async_client,
        load_config,
    )
    from kubereload.kube.data import DataKind, DecodedData, decode_data
    from kubereload.kube.errors import (
        ApiError,
        ConflictError,
        GoneError,
        KubeError,
        ReadTimeoutError,
        TransportError,
    )
    from kubereload.kube.informer import (
        Handler,
        Informer,
        InformerState,
        Key,
        list_pages,
        object_key,
    )
    from kubereload.kube.resources import (
        CONFIGMAPS,
        DAEMONSETS,
        DEPLOYMENTS,
        NAMESPACES,
        SECRETS,
        STATEFULSETS,
        ObjectRef,
        Resource,
    )

_HOME = {
    "KubeClient": "kubereload.kube.client",
    "Cluster": "kubereload.kube.config",
    "Credentials": "kubereload.kube.config",
    "KubeConfigError": "kubereload.kube.config",
    "async_client": "kubereload.kube.config",
    "load_config": "kubereload.kube.config",
    "DataKind": "kubereload.kube.data",
    "DecodedData": "kubereload.kube.data",
    "decode_data": "kubereload.kube.data",
    "ApiError": "kubereload.kube.errors",
    "ConflictError": "kubereload.kube.errors",
    "GoneError": "kubereload.kube.errors",
    "KubeError": "kubereload.kube.errors",
    "ReadTimeoutError": "kubereload.kube.errors",
    "TransportError": "kubereload.kube.errors",
    "Handler": "kubereload.kube.informer",
    "Informer": "kubereload.kube.informer",
    "InformerState": "kubereload.kube.informer",
    "Key": "kubereload.kube.informer",
    "list_pages": "kubereload.kube.informer",
    "object_key": "kubereload.kube.informer",
    "CONFIGMAPS": "kubereload.kube.resources",
    "DAEMONSETS": "kubereload.kube.resources",
    "DEPLOYMENTS": "kubereload.kube.resources",
    "NAMESPACES": "kubereload.kube.resources",
    "SECRETS": "kubereload.kube.resources",
    "STATEFULSETS": "kubereload.kube.resources",
    "ObjectRef": "kubereload.kube.resources",
    "Resource": "kubereload.kube.resources",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'kubereload.kube' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "CONFIGMAPS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "NAMESPACES",
    "SECRETS",
    "STATEFULSETS",
    "ApiError",
    "Cluster",
    "ConflictError",
    "Credentials",
    "DataKind",
    "DecodedData",
    "GoneError",
    "Handler",
    "Informer",
    "InformerState",
    "Key",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "ObjectRef",
    "ReadTimeoutError",
    "Resource",
    "TransportError",
    "async_client",
    "decode_data",
    "list_pages",
    "load_config",
    "object_key",
]

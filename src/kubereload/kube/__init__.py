"""The Kubernetes API: which cluster and credentials, and informers that mirror a kind."""

from kubereload.kube.config import (
    ClusterConfig,
    KubeConfigError,
    RotatingTokenFileAuth,
    async_client,
    load_config,
)
from kubereload.kube.errors import ApiError, GoneError
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
    Resource,
)

__all__ = [
    "CONFIGMAPS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "NAMESPACES",
    "SECRETS",
    "STATEFULSETS",
    "ApiError",
    "ClusterConfig",
    "GoneError",
    "Handler",
    "Informer",
    "InformerState",
    "Key",
    "KubeConfigError",
    "Resource",
    "RotatingTokenFileAuth",
    "async_client",
    "list_pages",
    "load_config",
    "object_key",
]

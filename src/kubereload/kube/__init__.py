"""The Kubernetes API, and the only HTTP layer to it: which cluster and credentials, a client by
verb whose errors are kubereload's own, informers that mirror a kind, the leader Lease, and
ConfigMap/Secret data decoded once."""

from kubereload.kube.client import KubeClient
from kubereload.kube.config import (
    Cluster,
    KubeConfigError,
    RotatingTokenFileAuth,
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
    "RotatingTokenFileAuth",
    "TransportError",
    "async_client",
    "decode_data",
    "list_pages",
    "load_config",
    "object_key",
]

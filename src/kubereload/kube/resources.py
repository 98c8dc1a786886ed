"""The resource kinds kubereload reads, and the REST paths that address them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote


class ObjectRef(NamedTuple):
    """One namespaced object by kind, namespace and name: the one key, in this one order."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Resource:
    """One API resource: enough to build its list, watch and get URLs."""

    api_version: str  # "v1" or "group/version"
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """``/api/v1/namespaces/NS/configmaps[/NAME]``; all namespaces if ``namespace`` is None."""
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [root]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
        return "/".join(parts)


CONFIGMAPS = Resource("v1", "ConfigMap", "configmaps")
SECRETS = Resource("v1", "Secret", "secrets")
NAMESPACES = Resource("v1", "Namespace", "namespaces", namespaced=False)
DEPLOYMENTS = Resource("apps/v1", "Deployment", "deployments")
STATEFULSETS = Resource("apps/v1", "StatefulSet", "statefulsets")
DAEMONSETS = Resource("apps/v1", "DaemonSet", "daemonsets")
EVENTS = Resource("v1", "Event", "events")
JOBS = Resource("batch/v1", "Job", "jobs")
LEASES = Resource("coordination.k8s.io/v1", "Lease", "leases")

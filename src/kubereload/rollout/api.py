"""The controller's writes to the API server: workload patches, Events, and the Lease.

Reads go through informers (``kubereload.kube``); this module holds the few direct calls.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx2 as httpx

from kubereload.kube.errors import response_error
from kubereload.kube.resources import DAEMONSETS, DEPLOYMENTS, STATEFULSETS, Resource
from kubereload.rollout.lease import Conflict, LeaseRecord, lease_body, record_from_lease
from kubereload.rollout.patches import Patch

ROLLOUTS = Resource("argoproj.io/v1alpha1", "Rollout", "rollouts")
LEASES = Resource("coordination.k8s.io/v1", "Lease", "leases")
EVENTS = Resource("v1", "Event", "events")
WORKLOAD_RESOURCES = {r.kind: r for r in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, ROLLOUTS)}

T = TypeVar("T")


async def patch(
    client: httpx.AsyncClient, resource: Resource, namespace: str, name: str, body: Patch
) -> dict[str, Any]:
    """PATCH one object; raises ApiError with the server's reason on failure."""
    response = await client.patch(
        resource.path(namespace, name),
        content=body.encode(),
        headers={"Content-Type": body.content_type},
    )
    if response.status_code != 200:
        raise response_error(response)
    result: dict[str, Any] = response.json()
    return result


async def get(
    client: httpx.AsyncClient, resource: Resource, namespace: str, name: str
) -> dict[str, Any] | None:
    """GET one object; None when it does not exist."""
    response = await client.get(resource.path(namespace, name))
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise response_error(response)
    result: dict[str, Any] = response.json()
    return result


async def served(client: httpx.AsyncClient, resource: Resource) -> bool:
    """Whether the server knows this resource (Argo Rollouts is a CRD that may be absent)."""
    response = await client.get(f"/apis/{resource.api_version}")
    if response.status_code != 200:
        return False
    body = response.json()
    return any(r.get("name") == resource.plural for r in body.get("resources") or [])


def event_body(
    kind: str,
    namespace: str,
    name: str,
    *,
    reason: str,
    message: str,
    warning: bool = False,
    instance: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A core/v1 Event about a workload, as ``kubectl describe`` shows them."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = WORKLOAD_RESOURCES.get(kind)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": resource.api_version if resource else "apps/v1",
            "kind": kind,
            "namespace": namespace,
            "name": name,
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": "kubereload"},
        "reportingComponent": "kubereload",
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post_event(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post(EVENTS.path(body["metadata"]["namespace"]), json=body)
    if response.status_code not in (200, 201):
        raise response_error(response)


class HttpLeaseStore:
    """The Lease through the API, for a LeaderElector running in its own thread: each call is
    run on the controller's event loop and waited for."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        loop: asyncio.AbstractEventLoop,
        name: str,
        namespace: str,
        timeout: float = 10.0,
    ) -> None:
        self.client, self.loop = client, loop
        self.name, self.namespace = name, namespace
        self.timeout = timeout

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout)

    def get(self) -> tuple[LeaseRecord, str] | None:
        return self._call(self._get())

    def create(self, record: LeaseRecord) -> str:
        return self._call(self._write(record, None))

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        return self._call(self._write(record, resource_version))

    async def _get(self) -> tuple[LeaseRecord, str] | None:
        obj = await get(self.client, LEASES, self.namespace, self.name)
        if obj is None:
            return None
        return record_from_lease(obj), str(obj["metadata"].get("resourceVersion", ""))

    async def _write(self, record: LeaseRecord, rv: str | None) -> str:
        body = lease_body(self.name, self.namespace, record, rv)
        if rv is None:
            response = await self.client.post(LEASES.path(self.namespace), json=body)
        else:
            response = await self.client.put(LEASES.path(self.namespace, self.name), json=body)
        if response.status_code == 409:
            raise Conflict(f"lease {self.namespace}/{self.name} changed")
        if response.status_code not in (200, 201):
            raise response_error(response)
        return str(response.json()["metadata"].get("resourceVersion", ""))

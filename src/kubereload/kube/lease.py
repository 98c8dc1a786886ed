"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

A candidate reads the Lease; it takes it when nobody holds it or the holder has not renewed it
within ``leaseDurationSeconds`` of when this candidate last *saw it change* (its own clock, so
clocks need not agree). Writes carry the resourceVersion read, so of two candidates racing only
one wins (the other gets a conflict). The leader renews every ``retry_period``; if it cannot for
``renew_deadline`` (shorter than the lease duration) it stops leading before anyone else may
start: no two leaders act at once, so no workload rolls twice in a handover.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kubereload.kube.client import KubeClient
from kubereload.kube.errors import ConflictError
from kubereload.kube.resources import LEASES

log = logging.getLogger(__name__)

MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
T = TypeVar("T")


class Conflict(Exception):
    """The Lease changed (or appeared) since it was read: someone else wrote first."""


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    holder: str
    duration_seconds: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int = 0


class LeaseStore(Protocol):
    """Reads and writes one Lease; ``create`` and ``update`` raise Conflict on a lost race."""

    def get(self) -> tuple[LeaseRecord, str] | None:
        """The record and its resourceVersion, or None when the Lease does not exist."""

    def create(self, record: LeaseRecord) -> str:
        """Create the Lease; returns its resourceVersion."""

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        """Replace the Lease if still at ``resource_version``; returns the new one."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def _format(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime(MICRO_TIME)


def record_from_lease(obj: Mapping[str, Any]) -> LeaseRecord:
    spec = obj.get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=_time(spec.get("acquireTime")),
        renew_time=_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def lease_body(
    name: str, namespace: str, record: LeaseRecord, resource_version: str | None = None
) -> dict[str, Any]:
    """The Lease object for a create or update (an update must carry the resourceVersion read)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": record.holder,
            "leaseDurationSeconds": record.duration_seconds,
            "acquireTime": _format(record.acquire_time),
            "renewTime": _format(record.renew_time),
            "leaseTransitions": record.transitions,
        },
    }


class LeaderElector:
    """One candidate. ``try_acquire_or_renew`` is one round; ``run`` loops until stopped."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.store = store
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._wall = wall
        self._observed: LeaseRecord | None = None
        self._observed_rv: str | None = None
        self._observed_time = 0.0
        self._last_renew: float | None = None

    @property
    def observed_holder(self) -> str:
        return self._observed.holder if self._observed else ""

    def is_leader(self) -> bool:
        """Whether this candidate holds the lease as last seen."""
        return self._observed is not None and self._observed.holder == self.identity

    def leading(self) -> bool:
        """Whether it may act now: leader, and renewed within the renew deadline."""
        return (
            self.is_leader()
            and self._last_renew is not None
            and self._clock() - self._last_renew < self.renew_deadline
        )

    def _observe(self, record: LeaseRecord, rv: str, now: float) -> None:
        if rv != self._observed_rv:
            self._observed, self._observed_rv, self._observed_time = record, rv, now

    def try_acquire_or_renew(self) -> bool:
        """One round: take or renew the lease. False when another holds it or a race was lost."""
        now, wall = self._clock(), self._wall()
        mine = LeaseRecord(self.identity, round(self.lease_duration), wall, wall, 0)
        current = self.store.get()
        if current is None:
            try:
                rv = self.store.create(mine)
            except Conflict:
                return False
            self._observe(mine, rv, now)
            self._last_renew = now
            return True
        record, rv = current
        self._observe(record, rv, now)
        valid_until = self._observed_time + max(record.duration_seconds, 1)
        if record.holder and record.holder != self.identity and now < valid_until:
            return False
        if record.holder == self.identity:
            mine = replace(mine, acquire_time=record.acquire_time, transitions=record.transitions)
        else:
            mine = replace(mine, transitions=record.transitions + 1)
        try:
            new_rv = self.store.update(mine, rv)
        except Conflict:
            return False
        self._observe(mine, new_rv, now)
        self._last_renew = now
        return True

    def release(self) -> bool:
        """Give the lease up at once (on shutdown), so a successor need not wait it out."""
        if not self.is_leader() or self._observed_rv is None or self._observed is None:
            return False
        wall = self._wall()
        record = LeaseRecord("", 1, wall, wall, self._observed.transitions)
        try:
            rv = self.store.update(record, self._observed_rv)
        except Conflict:
            return False
        self._observe(record, rv, self._clock())
        self._last_renew = None
        return True

    def _round(self) -> bool:
        try:
            return self.try_acquire_or_renew()
        except Conflict:
            return False
        except Exception as exc:  # the API is down: this round fails, the loop goes on
            log.warning("lease: %s", exc)
            return False

    def run(
        self,
        stop: threading.Event,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        """Campaign until leader, call ``on_started``, renew; call ``on_stopped`` when leadership
        is lost or ``stop`` is set (then release the lease). Returns after ``on_stopped``."""
        while not stop.is_set():
            if self._round():
                break
            stop.wait(self.retry_period * (1.0 + random.random() * 0.2))
        else:
            return
        log.info("lease: %s is the leader", self.identity)
        on_started()
        try:
            while not stop.wait(self.retry_period):
                deadline = self._clock() + self.renew_deadline
                while not self._round():
                    if self._clock() >= deadline or stop.is_set():
                        break
                    stop.wait(min(self.retry_period, max(0.0, deadline - self._clock())))
                if not self.leading():
                    log.warning("lease: %s lost the lease", self.identity)
                    return
        finally:
            on_stopped()
            if stop.is_set():
                self.release()


class ApiLeaseStore:
    """The Lease through the API, for a LeaderElector running in its own thread: each call is
    run on the event loop that owns ``client`` and waited for."""

    def __init__(
        self,
        client: KubeClient,
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
        obj = await self.client.get(LEASES, self.namespace, self.name)
        if obj is None:
            return None
        return record_from_lease(obj), str(obj["metadata"].get("resourceVersion", ""))

    async def _write(self, record: LeaseRecord, rv: str | None) -> str:
        body = lease_body(self.name, self.namespace, record, rv)
        try:
            if rv is None:
                written = await self.client.create(LEASES, self.namespace, body)
            else:
                written = await self.client.replace(LEASES, self.namespace, self.name, body)
        except ConflictError as err:
            raise Conflict(f"lease {self.namespace}/{self.name} changed") from err
        return str(written["metadata"].get("resourceVersion", ""))

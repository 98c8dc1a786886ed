"""Workloads reduced to what the controller needs, and the index from an object to its users.

The index answers "which workloads may a change to ConfigMap ns/x affect?" without a LIST:
it is kept current from the workload watches' add, update and delete events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubereload.rollout.annotations import CONFIG_HASH, Policy, parse_policy
from kubereload.rollout.refs import Reference, extract_references
from kubereload.rollout.sources import ObjRef

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")

WorkloadKey = tuple[str, str, str]
"""(kind, namespace, name) of a workload."""


@dataclass(frozen=True, slots=True)
class Workload:
    """One workload as the controller keeps it: no pod spec, only its references and hashes.

    ``template_hash`` is the config hash on the pod template (written by a rollout);
    ``baseline_hash`` the one on the workload's own metadata (written when first seen, which
    rolls nothing, and for Argo Rollouts whose restarts do not touch the template).
    """

    kind: str
    namespace: str
    name: str
    policy: Policy
    refs: tuple[Reference, ...]
    template_hash: str | None
    baseline_hash: str | None
    containers: tuple[str, ...] = ()
    rolling: bool = False

    @property
    def key(self) -> WorkloadKey:
        return (self.kind, self.namespace, self.name)

    @property
    def current_hash(self) -> str | None:
        return self.template_hash or self.baseline_hash

    def candidates(self) -> set[ObjRef]:
        """Every object whose change could matter to this workload (flags decide the rest)."""
        out: set[ObjRef] = set()
        if not self.policy.active:
            return out
        ns = self.namespace
        for ref in self.refs:
            out.add((ns, ref.kind, ref.name))
        out.update((ns, "ConfigMap", name) for name in self.policy.configmaps)
        out.update((ns, "Secret", name) for name in self.policy.secrets)
        return out


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def rollout_in_progress(kind: str, obj: Mapping[str, Any]) -> bool:
    """Whether the workload's controller is still rolling it out, read from its status as
    ``kubectl rollout status`` reads it (Argo Rollouts: never, their status differs)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if _int(status.get("observedGeneration")) < _int(meta.get("generation"), 1):
        return kind != "Rollout"
    if kind == "Deployment":
        want = _int(spec.get("replicas"), 1)
        updated = _int(status.get("updatedReplicas"))
        return (
            updated < want
            or _int(status.get("replicas")) > updated
            or _int(status.get("availableReplicas")) < updated
        )
    if kind == "StatefulSet":
        return _int(status.get("readyReplicas")) < _int(spec.get("replicas"), 1) or (
            status.get("updateRevision") != status.get("currentRevision")
        )
    if kind == "DaemonSet":
        want = _int(status.get("desiredNumberScheduled"))
        return (
            _int(status.get("updatedNumberScheduled")) < want
            or _int(status.get("numberAvailable")) < want
        )
    return False


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def from_object(kind: str, obj: Mapping[str, Any], *, auto_all: bool = False) -> Workload:
    """Reduce a Deployment/StatefulSet/DaemonSet/Rollout to a Workload."""
    meta = obj.get("metadata") or {}
    annotations = _str_map(meta.get("annotations"))
    template = (obj.get("spec") or {}).get("template") or {}
    template_annotations = _str_map((template.get("metadata") or {}).get("annotations"))
    return Workload(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        policy=parse_policy(annotations, kind, auto_all=auto_all),
        refs=tuple(extract_references(template.get("spec") or {})),
        template_hash=template_annotations.get(CONFIG_HASH),
        baseline_hash=annotations.get(CONFIG_HASH),
        containers=tuple(
            str(c.get("name"))
            for c in (template.get("spec") or {}).get("containers") or []
            if isinstance(c, Mapping) and c.get("name")
        ),
        rolling=rollout_in_progress(kind, obj),
    )


class WorkloadIndex:
    """Workloads by key, and by every ConfigMap/Secret they may depend on."""

    def __init__(self) -> None:
        self._workloads: dict[WorkloadKey, Workload] = {}
        self._users: dict[ObjRef, set[WorkloadKey]] = {}

    def __len__(self) -> int:
        return len(self._workloads)

    def get(self, key: WorkloadKey) -> Workload | None:
        return self._workloads.get(key)

    def all(self) -> Iterable[Workload]:
        return self._workloads.values()

    def users(self, ref: ObjRef) -> set[WorkloadKey]:
        """The workloads a change to ``ref`` may affect (a copy)."""
        return set(self._users.get(ref, ()))

    def upsert(self, workload: Workload) -> Workload | None:
        """Add or replace a workload; returns the previous version."""
        old = self._workloads.get(workload.key)
        self._unlink(old)
        self._workloads[workload.key] = workload
        for ref in workload.candidates():
            self._users.setdefault(ref, set()).add(workload.key)
        return old

    def remove(self, key: WorkloadKey) -> Workload | None:
        old = self._workloads.pop(key, None)
        self._unlink(old)
        return old

    def _unlink(self, old: Workload | None) -> None:
        if old is None:
            return
        for ref in old.candidates():
            users = self._users.get(ref)
            if users is not None:
                users.discard(old.key)
                if not users:
                    del self._users[ref]


def keyed_refs(workload: Workload | None) -> set[ObjRef]:
    """Objects whose per-key digests this workload needs (none unless it sets ``keys``)."""
    if workload is None or workload.policy.keys is None:
        return set()
    return workload.candidates()

"""Workloads reduced to what the controller needs, and the index from an object to its users.

The index answers "which workloads may a change to ConfigMap ns/x affect?" without a LIST:
it is kept current from the workload watches' add, update and delete events.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubereload.kube.data import DataKind
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.annotations import (
    CONFIG_HASH,
    DEFAULT_READING,
    Policy,
    Reading,
    parse_policy,
)
from kubereload.rollout.kinds import WorkloadKind
from kubereload.rollout.refs import Reference, extract_references


@dataclass(frozen=True, slots=True)
class Workload:
    """One workload as the controller keeps it: no pod spec, only its references and hashes.

    ``template_hash`` is the config hash on the pod template (written by a rollout);
    ``baseline_hash`` the one on the workload's own metadata (written when first seen, which
    rolls nothing, and for kinds restarted without touching the template: Argo Rollouts).
    """

    kind: WorkloadKind
    namespace: str
    name: str
    policy: Policy
    refs: tuple[Reference, ...]
    template_hash: str | None
    baseline_hash: str | None
    containers: tuple[str, ...] = ()
    rolling: bool = False

    @property
    def key(self) -> ObjectRef:
        return ObjectRef(self.kind.name, self.namespace, self.name)

    @property
    def current_hash(self) -> str | None:
        return self.template_hash or self.baseline_hash

    def rolled_to(self, config_hash: str) -> Workload:
        """This workload as it is once a rollout to ``config_hash`` is written."""
        if self.kind.restart == "template":
            return replace(self, template_hash=config_hash)
        return replace(self, baseline_hash=config_hash)

    def candidates(self) -> set[ObjectRef]:
        """Every object whose change could matter to this workload (flags decide the rest)."""
        out: set[ObjectRef] = set()
        if not self.policy.active:
            return out
        ns = self.namespace
        for ref in self.refs:
            out.add(ObjectRef(ref.kind, ns, ref.name))
        out.update(ObjectRef(DataKind.CONFIGMAP, ns, name) for name in self.policy.configmaps)
        out.update(ObjectRef(DataKind.SECRET, ns, name) for name in self.policy.secrets)
        return out


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def from_object(
    kind: WorkloadKind, obj: Mapping[str, Any], *, reading: Reading = DEFAULT_READING
) -> Workload:
    """Reduce an object of one of the workload kinds to a Workload (references of kinds the
    reading ignores are left out, so they never count)."""
    meta = obj.get("metadata") or {}
    annotations = _str_map(meta.get("annotations"))
    template = kind.template(obj)
    template_annotations = _str_map((template.get("metadata") or {}).get("annotations"))
    return Workload(
        kind=kind,
        namespace=sys.intern(str(meta.get("namespace", ""))),
        name=str(meta.get("name", "")),
        policy=parse_policy(annotations, kind.pause_annotations, reading),
        refs=tuple(
            ref
            for ref in extract_references(template.get("spec") or {})
            if ref.kind not in reading.ignored_kinds
        ),
        template_hash=template_annotations.get(CONFIG_HASH),
        baseline_hash=annotations.get(CONFIG_HASH),
        containers=tuple(
            str(c.get("name"))
            for c in (template.get("spec") or {}).get("containers") or []
            if isinstance(c, Mapping) and c.get("name")
        ),
        rolling=kind.in_progress(obj),
    )


class WorkloadIndex:
    """Workloads by key, and by every ConfigMap/Secret they may depend on.

    Most objects have one user: that user's key is kept bare, and a set only from the second
    on (an empty set costs 216 bytes, thousands of them megabytes).
    """

    def __init__(self) -> None:
        self._workloads: dict[ObjectRef, Workload] = {}
        self._users: dict[ObjectRef, ObjectRef | set[ObjectRef]] = {}

    def __len__(self) -> int:
        return len(self._workloads)

    def get(self, key: ObjectRef) -> Workload | None:
        return self._workloads.get(key)

    def all(self) -> Iterable[Workload]:
        return self._workloads.values()

    def users(self, ref: ObjectRef) -> set[ObjectRef]:
        """The workloads a change to ``ref`` may affect (a copy)."""
        users = self._users.get(ref)
        if users is None:
            return set()
        return set(users) if isinstance(users, set) else {users}

    def upsert(self, workload: Workload) -> Workload | None:
        """Add or replace a workload; returns the previous version."""
        key = workload.key  # one tuple, shared by both maps
        old = self._workloads.get(key)
        self._unlink(old)
        self._workloads[key] = workload
        for ref in workload.candidates():
            users = self._users.get(ref)
            if users is None:
                self._users[ref] = key
            elif isinstance(users, set):
                users.add(key)
            elif users != key:
                self._users[ref] = {users, key}
        return old

    def remove(self, key: ObjectRef) -> Workload | None:
        old = self._workloads.pop(key, None)
        self._unlink(old)
        return old

    def _unlink(self, old: Workload | None) -> None:
        if old is None:
            return
        key = old.key
        for ref in old.candidates():
            users = self._users.get(ref)
            if isinstance(users, set):
                users.discard(key)
                if len(users) == 1:
                    self._users[ref] = users.pop()
            elif users == key:
                del self._users[ref]


def keyed_refs(workload: Workload | None) -> set[ObjectRef]:
    """Objects whose per-key digests this workload needs (none unless it sets ``keys``)."""
    if workload is None or workload.policy.keys is None:
        return set()
    return workload.candidates()

"""The one decision: does a workload need a rollout? Desired config hash != hash it carries.

Because the comparison is against what the workload itself carries, a controller restart, a new
leader or a fresh LIST rolls nothing, and a change made while no controller ran is found at
start-up. A workload never rolled carries no hash: it is adopted (the controller records the
hash its pods run, which restarts nothing) instead of being rolled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from kubereload.kube.data import DataKind
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.digests import DigestStore
from kubereload.rollout.workloads import Workload


@dataclass(frozen=True, slots=True)
class Dependency:
    """An object a workload depends on, and why (for ``explain`` and Events)."""

    kind: DataKind
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """An object a workload uses that does not count, and why."""

    kind: DataKind
    name: str
    reason: str


def dependencies(workload: Workload, store: DigestStore) -> tuple[list[Dependency], list[Ignored]]:
    """Which objects roll this workload when they change, and which it uses that do not."""
    policy, ns = workload.policy, workload.namespace
    deps: dict[tuple[DataKind, str], str] = {}
    skipped: dict[tuple[DataKind, str], str] = {}
    for ref in workload.refs:
        auto = policy.auto_configmaps if ref.kind is DataKind.CONFIGMAP else policy.auto_secrets
        state = store.get(ObjectRef(ref.kind, ns, ref.name))
        if auto:
            deps.setdefault((ref.kind, ref.name), "referenced, auto annotation")
        elif policy.search and state is not None and state.flags.match:
            deps.setdefault((ref.kind, ref.name), "referenced, search annotation + match")
        elif policy.search:
            skipped.setdefault((ref.kind, ref.name), "search annotation, but no match annotation")
        else:
            skipped.setdefault((ref.kind, ref.name), "not selected by any reload annotation")
    for name in sorted(policy.configmaps):
        deps[(DataKind.CONFIGMAP, name)] = "named in a reload annotation"
    for name in sorted(policy.secrets):
        deps[(DataKind.SECRET, name)] = "named in a reload annotation"
    out: list[Dependency] = []
    for (kind, name), reason in deps.items():
        skipped.pop((kind, name), None)
        state = store.get(ObjectRef(kind, ns, name))
        if state is not None and state.flags.ignore:
            skipped[(kind, name)] = "the object has the ignore annotation"
        else:
            out.append(Dependency(kind, name, reason))
    ignored = [Ignored(kind, name, reason) for (kind, name), reason in skipped.items()]
    return out, ignored


def desired_hash(workload: Workload, deps: list[Dependency], store: DigestStore) -> str:
    """A stable hash over the data of every dependency (only ``keys`` when the policy says so).

    Missing objects and keys count as "absent", so creating one changes the hash.
    """
    keys = workload.policy.keys
    h = hashlib.sha256()
    for dep in sorted(deps, key=lambda d: (d.kind, d.name)):
        state = store.get(ObjectRef(dep.kind, workload.namespace, dep.name))
        h.update(f"{dep.kind}\0{dep.name}\0".encode())
        if state is None:
            h.update(b"absent\n")
        elif keys is None:
            h.update(state.digest + b"\n")
        else:
            digests = state.keys or {}
            for key in sorted(keys):
                h.update(key.encode() + b"\0" + digests.get(key, b"absent") + b"\n")
    return h.hexdigest()[:32]


class Outcome(Enum):
    """What a decision asks for: nothing, record the hash (adopt), or roll."""

    NONE = "none"
    ADOPT = "adopt"
    ROLL = "roll"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str
    desired: str | None
    deps: list[Dependency]
    ignored: list[Ignored]


def decide(workload: Workload, store: DigestStore) -> Decision:
    """What to do with a workload now, given the digests of the objects it uses."""
    deps, ignored = dependencies(workload, store)
    if not workload.policy.active:
        return Decision(Outcome.NONE, "no reload annotation", None, deps, ignored)
    if not deps:
        return Decision(Outcome.NONE, "no ConfigMap or Secret selected", None, deps, ignored)
    desired = desired_hash(workload, deps, store)
    current = workload.current_hash
    if current is None:
        return Decision(
            Outcome.ADOPT, "first seen: hash recorded, nothing rolled", desired, deps, ignored
        )
    if current == desired:
        return Decision(Outcome.NONE, "config hash unchanged", desired, deps, ignored)
    return Decision(Outcome.ROLL, "config hash changed", desired, deps, ignored)

"""``kubereload explain``: which objects a workload depends on, through what, and what would happen;
and for a ConfigMap/Secret, which workloads a change to it rolls.

Also the text of the warning Event for ``subPath`` mounts, which never see updates.
"""

from __future__ import annotations

from kubereload.kube.client import KubeClient
from kubereload.kube.data import DataKind
from kubereload.kube.errors import ApiError
from kubereload.kube.informer import list_pages
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.annotations import DEFAULT_READING, Policy, Reading
from kubereload.rollout.decide import Decision, Outcome, decide, dependencies
from kubereload.rollout.digests import DigestStore, summarize_object
from kubereload.rollout.kinds import KINDS, WorkloadKind
from kubereload.rollout.refs import Reference
from kubereload.rollout.workloads import Workload, from_object


def describe_policy(policy: Policy) -> str:
    parts: list[str] = []
    if policy.declined_auto:
        parts.append('auto declined (auto: "false"; --auto-reload-all does not apply)')
    if policy.auto_configmaps and policy.auto_secrets:
        parts.append("auto (ConfigMaps and Secrets)")
    elif policy.auto_configmaps:
        parts.append("auto (ConfigMaps)")
    elif policy.auto_secrets:
        parts.append("auto (Secrets)")
    if policy.configmaps:
        parts.append("ConfigMaps " + ", ".join(sorted(policy.configmaps)))
    if policy.secrets:
        parts.append("Secrets " + ", ".join(sorted(policy.secrets)))
    if policy.search:
        parts.append("search (objects with the match annotation)")
    if policy.keys is not None:
        parts.append("only keys " + ", ".join(sorted(policy.keys)))
    if policy.pause_period:
        parts.append(f"pause period {policy.pause_period:g}s")
    return "; ".join(parts) if parts else "none"


def sub_path_warnings(workload: Workload) -> list[str]:
    """One message per ConfigMap/Secret mounted by subPath (for a Warning Event and explain)."""
    seen: set[tuple[DataKind, str]] = set()
    out: list[str] = []
    for ref in workload.refs:
        if ref.sub_path and (ref.kind, ref.name) not in seen:
            seen.add((ref.kind, ref.name))
            out.append(
                f"{ref.kind} {ref.name} is mounted with subPath ({ref.via}): the kubelet never "
                "updates such a file in place; only a rollout brings a change to the pod"
            )
    return out


def _vias(refs: tuple[Reference, ...], kind: DataKind, name: str) -> str:
    vias = [
        r.via + (f" (key {r.key})" if r.key else "")
        for r in refs
        if (r.kind, r.name) == (kind, name)
    ]
    return "; ".join(vias) if vias else "not referenced by the pod template"


def explain(workload: Workload, store: DigestStore) -> tuple[str, Decision]:
    """A report for people, and the decision it describes."""
    decision = decide(workload, store)
    ns = workload.namespace
    lines = [
        f"{workload.kind} {ns}/{workload.name}",
        f"  reload annotations: {describe_policy(workload.policy)}",
    ]
    lines += [f"  problem: {p}" for p in workload.policy.problems]
    lines.append("  depends on:" if decision.deps else "  depends on: nothing")
    for dep in decision.deps:
        state = "present" if store.get(ObjectRef(dep.kind, ns, dep.name)) is not None else "absent"
        lines.append(f"    {dep.kind} {dep.name} [{state}] - {dep.reason}")
        lines.append(f"      through: {_vias(workload.refs, dep.kind, dep.name)}")
    if decision.ignored:
        lines.append("  used but not counted:")
        for item in decision.ignored:
            lines.append(f"    {item.kind} {item.name} - {item.reason}")
    for warning in sub_path_warnings(workload):
        lines.append(f"  warning: {warning}")
    lines.append(f"  config hash on the workload: {workload.current_hash or 'none'}")
    if decision.desired:
        lines.append(f"  config hash wanted:          {decision.desired}")
    verdict = {
        Outcome.NONE: "no rollout",
        Outcome.ADOPT: "no rollout; the hash would be recorded",
        Outcome.ROLL: "it would roll now",
    }[decision.outcome]
    lines.append(f"  now: {verdict} ({decision.reason})")
    if decision.deps:
        what = "a change to one of the keys listed" if workload.policy.keys else "a change"
        lines.append(f"  later: {what} in any object it depends on rolls it once")
    return "\n".join(lines) + "\n", decision


async def explain_workload(
    client: KubeClient,
    kind: WorkloadKind,
    namespace: str,
    name: str,
    *,
    reading: Reading = DEFAULT_READING,
) -> str | None:
    """Read a workload and the ConfigMaps/Secrets it may use, and explain it (None: no such
    workload). Only digests of the objects are kept, never their values."""
    obj = await client.get(kind.resource, namespace, name)
    if obj is None:
        return None
    workload = from_object(kind, obj, reading=reading)
    store = DigestStore()
    keyed = workload.policy.keys is not None
    used = {ObjectRef(r.kind, namespace, r.name) for r in workload.refs} | workload.candidates()
    for ref in sorted(used):
        data_kind = DataKind(ref.kind)
        found = await client.get(data_kind.resource, ref.namespace, ref.name)
        if found is not None:
            digest = summarize_object(data_kind, found, with_keys=keyed, reading=reading)
            store.set(ref, digest)
    text, _ = explain(workload, store)
    return text


async def explain_users(
    client: KubeClient,
    kind: DataKind,
    namespace: str,
    name: str,
    *,
    reading: Reading = DEFAULT_READING,
) -> str | None:
    """Which workloads of the namespace a change to one ConfigMap/Secret would roll, and why;
    and which use it without being rolled by it (None: no such object)."""
    obj = await client.get(kind.resource, namespace, name)
    if obj is None:
        return None
    ref = ObjectRef(kind, namespace, name)
    store = DigestStore()
    store.set(ref, summarize_object(kind, obj, reading=reading))
    rolls: list[str] = []
    spared: list[str] = []
    for workload_kind in KINDS.values():
        try:
            async for page, _ in list_pages(client, workload_kind.resource, namespace=namespace):
                for item in page:
                    workload = from_object(workload_kind, item, reading=reading)
                    _judge(workload, ref, store, rolls, spared)
        except ApiError as err:
            if err.code != 404:  # 404: a CRD kind (Argo Rollouts) that is not installed
                raise
    lines = [f"{kind} {namespace}/{name}"]
    digest = store.get(ref)
    if digest is not None and digest.flags.ignore:
        lines.append("  it has the ignore annotation: a change rolls nothing")
    lines.append("  a change rolls:" if rolls else "  a change rolls: nothing")
    lines += [f"    {line}" for line in rolls]
    if spared:
        lines.append("  used, but not rolled by it:")
        lines += [f"    {line}" for line in spared]
    return "\n".join(lines) + "\n"


def _judge(
    workload: Workload, ref: ObjectRef, store: DigestStore, rolls: list[str], spared: list[str]
) -> None:
    uses = [r for r in workload.refs if (r.kind, r.name) == (ref.kind, ref.name)]
    if not uses and ref not in workload.candidates():
        return
    deps, ignored = dependencies(workload, store)
    what = f"{workload.kind} {workload.name}"
    through = _vias(workload.refs, DataKind(ref.kind), ref.name)
    for dep in deps:
        if (dep.kind, dep.name) == (ref.kind, ref.name):
            rolls.append(f"{what} - {dep.reason}; through: {through}")
            return
    for item in ignored:
        if (item.kind, item.name) == (ref.kind, ref.name):
            spared.append(f"{what} - {item.reason}")
            return
    spared.append(f"{what} - {describe_policy(workload.policy)}")

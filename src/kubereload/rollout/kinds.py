"""The kinds of workload the controller rolls, as data: one entry per kind.

As Reloader keeps one function table per kind, everything that differs between kinds lives in
a :class:`WorkloadKind`: its API resource, where its pod template is, how a rollout shows
progress in its status, how it is restarted, and whether a rollout holds a ``--max-concurrent``
slot. The controller, ``explain`` and the patches read this table and never test a kind's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubereload.kube.resources import DAEMONSETS, DEPLOYMENTS, STATEFULSETS, Resource
from kubereload.rollout.annotations import RELOADER_DEPLOYMENT_PAUSE

Restart = Literal["template", "restart-at"]
"""How a rollout is started: a change to the pod template (the hash annotation on it), or
Argo Rollouts' ``spec.restartAt`` (the template untouched, the hash on the object's metadata)."""

Progress = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, eq=False)
class WorkloadKind:
    """One kind of workload; compared by identity (each is one entry of :data:`KINDS`)."""

    name: str
    resource: Resource
    aliases: tuple[str, ...]  # what ``explain KIND/NAME`` accepts, lower case
    in_progress: Progress  # whether its controller is still rolling it out, from its status
    template_path: tuple[str, ...] = ("spec", "template")
    restart: Restart = "template"
    holds_slot: bool = True  # with --max-concurrent, holds a slot until in_progress is False
    optional: bool = False  # a CRD: watched only when the API server serves it
    pause_annotations: tuple[str, ...] = ()  # Reloader's kind-specific pause-period names
    job_template_path: tuple[str, ...] | None = None  # where a Job to run at once comes from

    def __str__(self) -> str:
        return self.name

    def template(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        """The pod template of an object of this kind ({} when absent or malformed)."""
        node: Any = obj
        for field in self.template_path:
            node = node.get(field) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def _parts(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    return obj.get("spec") or {}, obj.get("status") or {}


def _generation_pending(obj: Mapping[str, Any]) -> bool:
    """Its controller has not seen the latest spec yet (``kubectl rollout status`` checks it
    first, for every built-in kind)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return _int(status.get("observedGeneration")) < _int(meta.get("generation"), 1)


def deployment_in_progress(obj: Mapping[str, Any]) -> bool:
    spec, status = _parts(obj)
    if _generation_pending(obj):
        return True
    want = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    return (
        updated < want
        or _int(status.get("replicas")) > updated
        or _int(status.get("availableReplicas")) < updated
    )


def statefulset_in_progress(obj: Mapping[str, Any]) -> bool:
    spec, status = _parts(obj)
    if _generation_pending(obj):
        return True
    return _int(status.get("readyReplicas")) < _int(spec.get("replicas"), 1) or (
        status.get("updateRevision") != status.get("currentRevision")
    )


def daemonset_in_progress(obj: Mapping[str, Any]) -> bool:
    _spec, status = _parts(obj)
    if _generation_pending(obj):
        return True
    want = _int(status.get("desiredNumberScheduled"))
    return (
        _int(status.get("updatedNumberScheduled")) < want
        or _int(status.get("numberAvailable")) < want
    )


def never_in_progress(obj: Mapping[str, Any]) -> bool:
    """For kinds whose status does not say (Argo Rollouts' differs): a rollout is done at once."""
    return False


DEPLOYMENT = WorkloadKind(
    "Deployment",
    DEPLOYMENTS,
    ("deployment", "deployments", "deploy"),
    deployment_in_progress,
    pause_annotations=(RELOADER_DEPLOYMENT_PAUSE,),
)
STATEFULSET = WorkloadKind(
    "StatefulSet", STATEFULSETS, ("statefulset", "statefulsets", "sts"), statefulset_in_progress
)
DAEMONSET = WorkloadKind(
    "DaemonSet", DAEMONSETS, ("daemonset", "daemonsets", "ds"), daemonset_in_progress
)
ROLLOUT = WorkloadKind(
    "Rollout",
    Resource("argoproj.io/v1alpha1", "Rollout", "rollouts"),
    ("rollout", "rollouts"),
    never_in_progress,
    restart="restart-at",
    holds_slot=False,
    optional=True,
)

CRONJOB = WorkloadKind(
    "CronJob",
    Resource("batch/v1", "CronJob", "cronjobs"),
    ("cronjob", "cronjobs", "cj"),
    never_in_progress,  # its pods run on schedule: nothing to wait for
    template_path=("spec", "jobTemplate", "spec", "template"),  # the next scheduled Job's
    holds_slot=False,
    job_template_path=("spec", "jobTemplate"),
)

KINDS: dict[str, WorkloadKind] = {
    k.name: k for k in (DEPLOYMENT, STATEFULSET, DAEMONSET, ROLLOUT, CRONJOB)
}
"""Every kind, by its API name."""

BY_ALIAS: dict[str, WorkloadKind] = {alias: k for k in KINDS.values() for alias in k.aliases}

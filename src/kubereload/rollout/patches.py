"""The PATCH bodies that roll a workload, or record its hash without rolling it.

Most kinds roll when their pod template changes, so the hash goes into the template's
``metadata.annotations`` (where the template is: the kind's ``template_path``), as a strategic
merge patch: maps merge, and the env vars of the Reloader-compatible ``env-vars`` strategy merge
into containers by name. A kind restarted by ``restart-at`` (Argo Rollouts) gets
``spec.restartAt`` (a CRD: JSON merge patch), its hash kept in metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kubereload.kube.data import DataKind
from kubereload.rollout.annotations import CONFIG_HASH, LAST_RELOADED_FROM
from kubereload.rollout.kinds import WorkloadKind

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"

Strategy = Literal["annotations", "env-vars"]
STRATEGIES: tuple[Strategy, ...] = ("annotations", "env-vars")


@dataclass(frozen=True, slots=True)
class Patch:
    content_type: str
    body: dict[str, Any]

    def encode(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class Trigger:
    """An object whose change causes a rollout, with its digest in hex (never its data)."""

    kind: DataKind
    namespace: str
    name: str
    digest: str


def env_var_name(name: str, kind: DataKind) -> str:
    """Reloader's variable: ``STAKATER_<NAME>_CONFIGMAP|SECRET``.

    As Reloader's ConvertToEnvVarName: upper-cased; letters and digits kept; each run of other
    characters after a kept one becomes one ``_`` (leading ones are dropped).
    """
    out: list[str] = []
    last_valid = False
    for ch in name.upper():
        if ("A" <= ch <= "Z") or ("0" <= ch <= "9"):
            out.append(ch)
            last_valid = True
        else:
            if last_valid:
                out.append("_")
            last_valid = False
    return f"STAKATER_{''.join(out)}_{kind.upper()}"


def last_reloaded_from(trigger: Trigger, containers: list[str], now: datetime) -> str:
    """The JSON Reloader writes into ``reloader.stakater.com/last-reloaded-from``."""
    return json.dumps(
        {
            "type": trigger.kind.upper(),
            "name": trigger.name,
            "namespace": trigger.namespace,
            "hash": trigger.digest,
            "containerRefs": containers,
            "observedAt": int(now.timestamp()),
        },
        separators=(",", ":"),
    )


def rfc3339(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def adopt_patch(config_hash: str) -> Patch:
    """Record the hash on the workload's own metadata: restarts nothing."""
    return Patch(MERGE, {"metadata": {"annotations": {CONFIG_HASH: config_hash}}})


def rollout_patch(
    kind: WorkloadKind,
    config_hash: str,
    *,
    strategy: Strategy = "annotations",
    triggers: list[Trigger] | None = None,
    containers: list[str] | None = None,
    now: datetime | None = None,
) -> Patch:
    """The patch that rolls a workload to ``config_hash``.

    Both strategies write the hash annotation. ``triggers``: the objects that changed;
    ``annotations`` also writes Reloader's last-reloaded-from naming the first, ``env-vars`` sets
    Reloader's variable for each trigger in every container (``containers``: their names).
    """
    now = now or datetime.now(UTC)
    triggers = triggers or []
    containers = containers or []
    if kind.restart == "restart-at":
        return Patch(
            MERGE,
            {
                "metadata": {"annotations": {CONFIG_HASH: config_hash}},
                "spec": {"restartAt": rfc3339(now)},
            },
        )
    annotations: dict[str, str] = {CONFIG_HASH: config_hash}
    template: dict[str, Any] = {"metadata": {"annotations": annotations}}
    if strategy == "annotations" and triggers:
        annotations[LAST_RELOADED_FROM] = last_reloaded_from(triggers[0], containers, now)
    elif strategy == "env-vars" and triggers and containers:
        env = [
            {"name": env_var_name(t.name, t.kind), "value": t.digest}
            for t in sorted(triggers, key=lambda t: (t.kind, t.name))
        ]
        template["spec"] = {"containers": [{"name": c, "env": env} for c in containers]}
    body: dict[str, Any] = template
    for field in reversed(kind.template_path):
        body = {field: body}
    return Patch(STRATEGIC, body)

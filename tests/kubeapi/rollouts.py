"""The status a workload controller writes when a rollout has finished.

The test server runs no controllers; tests that wait for a rollout (`kubectl rollout status`,
the rollout controller) call `KubeAPIServer.complete_rollout` to play the controller's part.
"""

from __future__ import annotations

from typing import Any

from kubeapi.strategy import now


def finished_status(obj: dict[str, Any]) -> dict[str, Any]:
    """The status of `obj` (Deployment, StatefulSet or DaemonSet) once all replicas are new."""
    kind = obj["kind"]
    generation = obj["metadata"].get("generation", 1)
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if kind == "Deployment":
        stamp = now()
        conditions = [
            ("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            (
                "Progressing",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{obj["metadata"]["name"]}" has successfully progressed.',
            ),
        ]
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {
                    "type": kind_,
                    "status": "True",
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                    "reason": reason,
                    "message": message,
                }
                for kind_, reason, message in conditions
            ],
        }
    if kind == "StatefulSet":
        revision = f"{obj['metadata']['name']}-{generation}"
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "currentRevision": revision,
            "updateRevision": revision,
        }
    if kind == "DaemonSet":
        nodes = 1
        return {
            "observedGeneration": generation,
            "desiredNumberScheduled": nodes,
            "currentNumberScheduled": nodes,
            "updatedNumberScheduled": nodes,
            "numberAvailable": nodes,
            "numberReady": nodes,
            "numberMisscheduled": 0,
        }
    raise ValueError(f"{kind} has no rollout")

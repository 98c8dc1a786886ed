"""The Events the controller posts about a workload, as ``kubectl describe`` shows them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from kubereload.rollout.workloads import Workload


def event_body(
    workload: Workload,
    *,
    reason: str,
    message: str,
    warning: bool = False,
    instance: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A core/v1 Event about ``workload`` (``message`` cut to the API's 1 024 characters)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace, name = workload.namespace, workload.name
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": workload.kind.resource.api_version,
            "kind": workload.kind.name,
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

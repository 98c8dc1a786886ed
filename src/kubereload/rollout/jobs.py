"""A Job made from a CronJob at once, for ``--cronjob-job-now`` (what Reloader does).

By default a CronJob's job template is patched and the next scheduled Job runs with the new
config; Reloader instead starts a Job out of schedule, which its users report as surprising
(stakater/Reloader #755, #1100), so kubereload does that only when asked. The Job is what
``kubectl create job --from=cronjob/NAME`` makes: the job template's spec, labels and
annotations, owned by the CronJob, marked as manually instantiated.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MANUAL = "cronjob.kubernetes.io/instantiate"
NAME_LIMIT = 63  # a Job's name becomes a label value on its pods


def job_body(
    cronjob: Mapping[str, Any], template_path: tuple[str, ...], now: datetime | None = None
) -> dict[str, Any]:
    """The Job to create now from ``cronjob`` (an API object read after its patch)."""
    meta = cronjob.get("metadata") or {}
    node: Any = cronjob
    for field in template_path:
        node = node.get(field) if isinstance(node, Mapping) else None
    template: Mapping[str, Any] = node if isinstance(node, Mapping) else {}
    template_meta = template.get("metadata") or {}
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    suffix = f"-reload-{stamp}-{secrets.token_hex(2)}"
    name = str(meta.get("name", "cronjob"))[: NAME_LIMIT - len(suffix)] + suffix
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace"),
            "labels": dict(template_meta.get("labels") or {}),
            "annotations": {**(template_meta.get("annotations") or {}), MANUAL: "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta.get("name"),
                    "uid": meta.get("uid"),
                    "controller": True,
                }
            ],
        },
        "spec": dict(template.get("spec") or {}),
    }

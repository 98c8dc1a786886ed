"""``kubereload controller`` processes, and what a controller leaves on the API server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubeapi.server import KubeAPIServer
from support.objects import NS, encoded
from support.process import KUBERELOAD, TIMEOUT, Proc, http_get, metric_sum, wait_until

HASH = "kubereload.io/config-hash"
LEASE = ("coordination.k8s.io/v1", "Lease", NS, "kubereload-controller")


class Controller(Proc):
    """A controller whose Lease identity starts with ``name``, with its status server on a free
    port: ``ready()`` waits until every informer has listed once."""

    def __init__(self, kubeconfig: Path, *flags: str, name: str = "controller") -> None:
        self.name = name
        self._port: int | None = None
        super().__init__(
            [
                *KUBERELOAD, "controller", "--kubeconfig", str(kubeconfig), "--log-level", "info",
                "--stall-timeout", "5s", "--listen", "127.0.0.1:0", *flags,
            ],
            env={"POD_NAME": name, "KUBECONFIG": None},
        )  # fmt: skip

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = self.listening_port()
        return self._port

    def ready(self, timeout: float = TIMEOUT) -> None:
        wait_until(
            lambda: http_get(f"http://127.0.0.1:{self.port}/readyz")[0] == 200,
            timeout,
            f"controller {self.name} ready",
        )

    def metrics(self) -> str:
        return http_get(f"http://127.0.0.1:{self.port}/metrics")[1]

    def adopted(self, workloads: int) -> bool:
        """Whether it has adopted ``workloads`` workloads: from then on, a change rolls them."""
        return metric_sum(self.metrics(), "kubereload_adoptions_total") >= workloads

    def holds(self, identity: str) -> bool:
        """Whether a Lease ``holderIdentity`` is this controller's (``NAME_<uuid>``)."""
        return identity.startswith(f"{self.name}_")


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def template_hash(
    api: KubeAPIServer, name: str, kind: str = "Deployment", namespace: str = NS
) -> str | None:
    """The hash on the pod template: it changes on each rollout."""
    obj = api.get("apps/v1", kind, namespace, name)
    assert obj is not None, f"{kind} {namespace}/{name} is gone"
    return annotations_of(obj["spec"]["template"]).get(HASH)


def baseline_hash(
    api: KubeAPIServer, name: str, kind: str = "Deployment", namespace: str = NS
) -> str | None:
    """The hash recorded on the workload's own metadata: set when it is adopted with
    ``--record-first-seen-hash``, or rolled if it restarts without touching its template."""
    obj = api.get("batch/v1" if kind == "CronJob" else "apps/v1", kind, namespace, name)
    assert obj is not None, f"{kind} {namespace}/{name} is gone"
    return annotations_of(obj).get(HASH)


def events(
    api: KubeAPIServer, name: str, reason: str = "Reloaded", namespace: str = NS
) -> list[dict[str, Any]]:
    return [
        e
        for e in api.list("v1", "Event", namespace)
        if e["involvedObject"]["name"] == name and e["reason"] == reason
    ]


def rollouts(api: KubeAPIServer, name: str, namespace: str = NS) -> int:
    """Rollouts so far: the controller posts one Reloaded Event per rollout patch."""
    return len(events(api, name, namespace=namespace))


def has_rolled(
    api: KubeAPIServer, name: str, times: int = 1, namespace: str = NS
) -> Callable[[], bool]:
    """A check, for ``wait_until``: has ``name`` rolled ``times`` times?"""
    return lambda: rollouts(api, name, namespace) == times


def update_data(
    api: KubeAPIServer, kind: str, name: str, data: Mapping[str, str], namespace: str = NS
) -> None:
    """Replace a ConfigMap's or Secret's data (a Secret's values given as text)."""
    obj = api.get("v1", kind, namespace, name)
    assert obj is not None, f"{kind} {namespace}/{name} is gone"
    obj["data"] = encoded(data) if kind == "Secret" else dict(data)
    api.update(obj)


def lease_holder(api: KubeAPIServer) -> str:
    lease = api.get(*LEASE)
    return str((lease or {}).get("spec", {}).get("holderIdentity") or "")

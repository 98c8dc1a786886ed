"""The `cluster` the cluster-capable tests run against: the test server, the envtest control
plane (a real kube-apiserver, tests/support/controlplane.py), or a real cluster.

All give the same basic interface as KubeAPIServer's direct access (create, get, update,
delete, list), a fresh namespace, a kubeconfig and `kubectl`. Only the test server has
`faults` (the KubeAPIServer itself, for fault injection); only envtest has `plane` (the
control plane itself: restart its API server, make least-privilege identities).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from kubeapi import resources
from kubeapi.server import KubeAPIServer
from support.controlplane import ControlPlane

E2E_ENV = "KUBERELOAD_E2E_KUBECONFIG"


class Kubectl:
    """The real kubectl with one kubeconfig and its own cache directory.

    Against the test server it also gets its own HOME, and a dead proxy catches any attempt
    to reach an address other than 127.0.0.1.
    """

    def __init__(self, kubeconfig: Path, home: Path, *, local: bool) -> None:
        binary = shutil.which("kubectl")
        if binary is None:
            raise FileNotFoundError("kubectl is not installed")
        self.binary, self.kubeconfig, self.home = binary, kubeconfig, home
        home.mkdir(parents=True, exist_ok=True)
        if local:
            dead = "http://127.0.0.1:9"
            path = os.environ.get("PATH", "/usr/bin:/bin")
            self.env = {"PATH": path, "HOME": str(home)}
            self.env |= {"HTTPS_PROXY": dead, "HTTP_PROXY": dead, "NO_PROXY": "127.0.0.1"}
        else:  # a real cluster's exec plugins (gcloud, aws, ...) need the user's environment
            self.env = dict(os.environ)

    def run(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [
            self.binary,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.home / 'cache'}",
            "--request-timeout=20s",
            *args,
        ]
        done = subprocess.run(
            command,
            check=False,
            input=input,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.run(*args, "-o", "json", input=input).stdout)


def kubectl_resource(api_version: str, kind: str) -> str:
    """`configmaps`, `deployments.v1.apps`: a name kubectl resolves without ambiguity."""
    res = resources.by_kind(api_version, kind)
    if res is None:
        raise ValueError(f"unknown type {api_version} {kind}")
    return f"{res.plural}.{res.version}.{res.group}" if res.group else res.plural


class LocalCluster:
    """The in-process test server (HTTPS so kubectl sends its token) and a fresh namespace."""

    def __init__(self, workdir: Path) -> None:
        self.faults: KubeAPIServer | None = KubeAPIServer(tls=True).start()
        self.server = self.faults
        self.kubeconfig = self.server.write_kubeconfig(workdir / "kubeconfig")
        self.kubectl = Kubectl(self.kubeconfig, workdir / "home", local=True)
        self.namespace = f"kubeapi-{uuid.uuid4().hex[:8]}"
        self.server.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        )

    def close(self) -> None:
        self.server.stop()

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", self.namespace)
        return self.server.create(obj)

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return self.server.get(api_version, kind, self._ns(namespace), name)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.server.update(obj)

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any]:
        return self.server.delete(api_version, kind, self._ns(namespace), name)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        return self.server.list(api_version, kind, self._ns(namespace))


class RealCluster:
    """A real cluster named by KUBERELOAD_E2E_KUBECONFIG, driven through kubectl."""

    faults: KubeAPIServer | None = None

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl = Kubectl(kubeconfig, workdir / "home", local=False)
        self.namespace = f"kubereload-e2e-{uuid.uuid4().hex[:8]}"
        self.kubectl.run("create", "namespace", self.namespace)

    def close(self) -> None:
        self.kubectl.run("delete", "namespace", self.namespace, "--wait=false", check=False)

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        created: dict[str, Any] = self.kubectl.json("create", "-f", "-", input=json.dumps(obj))
        return created

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        done = self.kubectl.run(
            "get",
            kubectl_resource(api_version, kind),
            name,
            "-n",
            self._ns(namespace),
            "-o",
            "json",
            "--ignore-not-found",
        )
        return json.loads(done.stdout) if done.stdout.strip() else None

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = self.kubectl.json("replace", "-f", "-", input=json.dumps(obj))
        return updated

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any]:
        current = self.get(api_version, kind, namespace, name)
        if current is None:
            raise LookupError(f"{kind} {self._ns(namespace)}/{name} not found")
        self.kubectl.run(
            "delete", kubectl_resource(api_version, kind), name, "-n", self._ns(namespace)
        )
        return current

    def list(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        listed = self.kubectl.json(
            "get", kubectl_resource(api_version, kind), "-n", self._ns(namespace)
        )
        items: list[dict[str, Any]] = listed["items"]
        return items


def api_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """The REST path of a kind (a namespace's collection, or one object)."""
    res = resources.by_kind(api_version, kind)
    if res is None:
        raise ValueError(f"unknown type {api_version} {kind}")
    path = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    if res.namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{res.plural}"
    return f"{path}/{name}" if name else path


class EnvtestCluster:
    """A fresh namespace on the session's envtest control plane (real kube-apiserver, etcd),
    driven through its REST API as admin; `kubectl` is the real one, loopback only."""

    faults: KubeAPIServer | None = None

    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        self.plane = plane
        self.namespace = f"envtest-{uuid.uuid4().hex[:8]}"
        plane.create_namespace(self.namespace)
        self.kubeconfig = plane.write_kubeconfig(workdir / "kubeconfig", namespace=self.namespace)
        self.kubectl = Kubectl(self.kubeconfig, workdir / "home", local=True)

    def close(self) -> None:
        self.plane.delete_namespace(self.namespace)

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", self.namespace)
        path = api_path(obj["apiVersion"], obj["kind"], meta["namespace"])
        created: dict[str, Any] = self.plane.ok("POST", path, obj)
        return created

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        status, obj = self.plane.request(
            "GET", api_path(api_version, kind, self._ns(namespace), name)
        )
        if status == 404:
            return None
        if status != 200:
            raise AssertionError(f"GET {kind} {name}: {status}")
        found: dict[str, Any] = obj
        return found

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        namespace = self._ns(meta.get("namespace"))
        path = api_path(obj["apiVersion"], obj["kind"], namespace, meta["name"])
        updated: dict[str, Any] = self.plane.ok("PUT", path, obj)
        return updated

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any]:
        current = self.get(api_version, kind, namespace, name)
        if current is None:
            raise LookupError(f"{kind} {self._ns(namespace)}/{name} not found")
        self.plane.ok("DELETE", api_path(api_version, kind, self._ns(namespace), name))
        return current

    def list(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        listed = self.plane.ok("GET", api_path(api_version, kind, self._ns(namespace)))
        items: list[dict[str, Any]] = listed["items"]
        return items


Cluster = LocalCluster | EnvtestCluster | RealCluster

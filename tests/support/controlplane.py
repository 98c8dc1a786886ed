"""A real Kubernetes control plane for tests and benchmarks: etcd, kube-apiserver and, when asked,
kube-controller-manager, all on free loopback ports with their own data directory and keys.

The Kubernetes binaries come from the directory named by ``KUBEBUILDER_ASSETS`` (the envtest
convention, what ``setup-envtest use -p path`` prints); etcd from that directory or ``$PATH``
(Debian's ``etcd-server``). ``unavailable()`` says why it cannot run, for a skip reason.

    with ControlPlane(tmp_dir) as plane:           # ready when /readyz answers "ok"
        plane.create_namespace("demo")
        plane.request("POST", "/api/v1/namespaces/demo/configmaps", {...})
        reader = plane.identity("reader", "demo", [{"apiGroups": [""], ...}])
        plane.restart_apiserver()                  # same port; watches resumed then get 410
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

ASSETS_ENV = "KUBEBUILDER_ASSETS"
BINARIES = ("kube-apiserver", "kube-controller-manager")
CONTROLLERS = (
    "deployment,replicaset,statefulset,daemonset,job,cronjob,namespace,"
    "serviceaccount,serviceaccount-token,garbagecollector"
)
READY_TIMEOUT = 120.0  # seconds; about 5-10 s on an idle 2-core machine


def role_rules(path: Path) -> list[dict[str, Any]]:
    """The rules of the Role in the manifest ``path``: what ``identity`` is to be granted."""
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "Role":
            rules: list[dict[str, Any]] = doc["rules"]
            return rules
    raise AssertionError(f"no Role in {path}")


class ControlPlaneError(RuntimeError):
    """A component did not start or answer; the message carries the tail of its log."""


def assets_dir() -> Path | None:
    """The directory named by KUBEBUILDER_ASSETS, if it holds the Kubernetes binaries."""
    named = os.environ.get(ASSETS_ENV)
    if not named:
        return None
    path = Path(named).expanduser().resolve()
    return path if all((path / b).is_file() for b in BINARIES) else None


def etcd_binary(assets: Path | None = None) -> str | None:
    assets = assets or assets_dir()
    if assets is not None and (assets / "etcd").is_file():
        return str(assets / "etcd")
    return shutil.which("etcd")


def unavailable() -> str | None:
    """Why a control plane cannot start here (a skip reason), or None when it can."""
    if assets_dir() is None:
        return f"{ASSETS_ENV} does not name a directory with {' and '.join(BINARIES)}"
    if etcd_binary() is None:
        return "etcd is not installed (Debian: apt-get install etcd-server)"
    for tool in ("openssl", "kubectl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Identity:
    """A ServiceAccount's bearer token and a kubeconfig that uses it."""

    name: str
    namespace: str
    token: str
    kubeconfig: Path


class _Process:
    """One component: its command line, log file and process."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name, self.command, self.log = name, command, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on pytest reaches us, not them, first
            )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def failure(self, what: str) -> ControlPlaneError:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            tail = []
        detail = "\n".join(tail)
        return ControlPlaneError(f"{self.name} {what}; last lines of {self.log}:\n{detail}")


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) in ``workdir``; see the module doc.

    ``url``, ``token`` (admin, system:masters), ``ca_file`` and ``kubeconfig`` (admin, default
    namespace "default") are valid once ``start()`` returned, and across API server restarts.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        assets: Path | None = None,
        controller_manager: bool = False,
    ) -> None:
        found = assets or assets_dir()
        etcd = etcd_binary(found)
        if found is None or etcd is None:
            raise ControlPlaneError(unavailable() or "no control plane binaries")
        self.assets = found
        self.workdir = workdir
        self.want_controller_manager = controller_manager
        workdir.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.certs = workdir / "certs"
        self.ca_file = self.certs / "apiserver.crt"  # self-signed, made by kube-apiserver
        self.kubeconfig = workdir / "admin.kubeconfig"
        self._etcd_binary = etcd
        self._choose_ports()
        atexit.register(self.stop)  # no orphaned etcd if the owner forgets, or raises early
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False  # the certificate names 127.0.0.1 and localhost
        self._tls.verify_mode = ssl.CERT_NONE  # until kube-apiserver has written it

    def _choose_ports(self) -> None:
        """Free loopback ports for every component, and their command lines."""
        workdir, found = self.workdir, self.assets
        self.api_port = free_port()
        self.url = f"https://127.0.0.1:{self.api_port}"
        etcd_url = f"http://127.0.0.1:{free_port()}"
        peer_url = f"http://127.0.0.1:{free_port()}"
        self._etcd_url = etcd_url
        self._etcd = _Process(
            "etcd",
            [
                self._etcd_binary,
                f"--data-dir={workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",  # test data: a busy disk must not slow every write
                "--log-level=warn",
            ],
            workdir / "etcd.log",
        )
        self._apiserver = _Process(
            "kube-apiserver",
            [
                str(found / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.certs}",
                f"--token-auth-file={workdir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={workdir / 'sa.pub'}",
                f"--service-account-signing-key-file={workdir / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
            ],
            workdir / "kube-apiserver.log",
        )
        self._controller_manager = _Process(
            "kube-controller-manager",
            [
                str(found / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={workdir / 'sa.key'}",
                f"--secure-port={free_port()}",
                "--bind-address=127.0.0.1",
            ],
            workdir / "kube-controller-manager.log",
        )

    # --- life cycle -----------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> ControlPlane:
        """Start every component and wait until the API server is ready; stops all on failure.

        A port picked free can be taken by someone else before a component binds it (eight
        test runs share this machine): then all start again on new ports (``url`` changes).
        """
        self._write_credentials()
        for attempt in range(1, attempts + 1):
            try:
                self._etcd.start()
                self._wait_etcd()
                self.start_apiserver()
                self._write_kubeconfig()
                if self.want_controller_manager:
                    self.start_controller_manager()
                return self
            except ControlPlaneError as err:
                self.stop()
                if attempt == attempts or "address already in use" not in str(err):
                    raise
                shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
                self._choose_ports()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop everything (controller manager, API server, then etcd)."""
        self._controller_manager.stop()
        self._apiserver.stop()
        self._etcd.stop()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start_apiserver(self) -> None:
        """Start kube-apiserver (on its port of this run) and wait for /readyz."""
        if not self._apiserver.running():
            self._apiserver.start()
        self._wait_ready()

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver gracefully: its open watches end, new connections are refused."""
        self._apiserver.stop()

    def restart_apiserver(self) -> None:
        """A stop and start on the same port and etcd: afterwards the watch cache starts at
        etcd's current revision, so a watch resumed from an older resourceVersion gets 410."""
        self.stop_apiserver()
        self.start_apiserver()

    def start_controller_manager(self) -> None:
        """Start the real controllers (idempotent): Deployments make ReplicaSets, namespaces
        are emptied on deletion, ServiceAccounts get their default tokens."""
        if self._controller_manager.running():
            return
        self._controller_manager.start()
        # Ready when it has created the default ServiceAccount in a namespace it watches.
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self._controller_manager.running():
                raise self._controller_manager.failure("exited")
            status, _ = self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
            if status == 200:
                return
            time.sleep(0.2)
        raise self._controller_manager.failure(f"was not ready in {READY_TIMEOUT:g} s")

    # --- talking to it ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """One admin request; returns (HTTP status, decoded JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._tls, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """Like :meth:`request`, but any status >= 300 raises."""
        status, answer = self.request(method, path, body, **kwargs)
        if status >= 300:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise ControlPlaneError(f"{method} {path}: {status} {message}")
        return answer

    def create_namespace(self, name: str) -> None:
        """A namespace with its "default" ServiceAccount (Pods need one; without the controller
        manager nobody else makes it)."""
        self.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        status, _ = self.request(
            "POST",
            f"/api/v1/namespaces/{name}/serviceaccounts",
            {"metadata": {"name": "default"}},
        )
        if status not in (201, 409):  # 409: the controller manager was quicker
            raise ControlPlaneError(f"default ServiceAccount in {name}: {status}")

    def delete_namespace(self, name: str) -> None:
        """Delete without waiting (only the controller manager empties and removes it)."""
        self.request("DELETE", f"/api/v1/namespaces/{name}")

    def identity(
        self,
        name: str,
        namespace: str,
        rules: Sequence[dict[str, Any]] = (),
        *,
        cluster_rules: Sequence[dict[str, Any]] = (),
        duration: str = "2h",
    ) -> Identity:
        """A ServiceAccount allowed exactly ``rules`` in ``namespace`` (a Role) and
        ``cluster_rules`` everywhere (a ClusterRole), and a token from ``kubectl create token``."""
        self.ok(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"metadata": {"name": name}},
        )
        subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        if rules:
            self.ok(
                "POST",
                f"{rbac}/namespaces/{namespace}/roles",
                {"metadata": {"name": name}, "rules": list(rules)},
            )
            self.ok(
                "POST",
                f"{rbac}/namespaces/{namespace}/rolebindings",
                {
                    "metadata": {"name": name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": name,
                    },
                    "subjects": subject,
                },
            )
        if cluster_rules:
            cluster_name = f"{namespace}:{name}"
            self.ok(
                "POST",
                f"{rbac}/clusterroles",
                {"metadata": {"name": cluster_name}, "rules": list(cluster_rules)},
            )
            self.ok(
                "POST",
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": cluster_name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": cluster_name,
                    },
                    "subjects": subject,
                },
            )
        token = self.kubectl(
            "create", "token", name, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        kubeconfig = self.workdir / "identities" / f"{namespace}.{name}.kubeconfig"
        kubeconfig.parent.mkdir(exist_ok=True)
        self.write_kubeconfig(kubeconfig, token=token, namespace=namespace)
        return Identity(name, namespace, token, kubeconfig)

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real kubectl as admin; raises with its stderr when it fails."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise ControlPlaneError("kubectl is not installed")
        done = subprocess.run(
            [
                kubectl,
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.workdir / 'kubectl-cache'}",
                "--request-timeout=30s",
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir)},
        )
        if done.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done

    def write_kubeconfig(
        self, path: Path, *, token: str | None = None, namespace: str = "default"
    ) -> Path:
        """A kubeconfig for this API server (its CA; ``token``, else the admin's): context
        "envtest"."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "envtest", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "envtest",
                    "context": {"cluster": "envtest", "user": "envtest", "namespace": namespace},
                }
            ],
            "current-context": "envtest",
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    # --- internals -------------------------------------------------------------------------------

    def _write_credentials(self) -> None:
        key, pub = self.workdir / "sa.key", self.workdir / "sa.pub"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
            subprocess.run(
                ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
                check=True,
                capture_output=True,
            )
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f"{self.token},admin,admin,system:masters\n")
        tokens.chmod(0o600)

    def _write_kubeconfig(self) -> None:
        self.write_kubeconfig(self.kubeconfig)

    def _wait_etcd(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self._etcd.running():
                raise self._etcd.failure("exited")
            try:
                with urllib.request.urlopen(self._etcd_url + "/health", timeout=5) as answer:
                    if b'"true"' in answer.read():
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise self._etcd.failure(f"was not healthy in {READY_TIMEOUT:g} s")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self._apiserver.running():
                raise self._apiserver.failure("exited")
            try:
                status, _ = self._readyz()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise self._apiserver.failure(f"was not ready in {READY_TIMEOUT:g} s")

    def _readyz(self) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + "/readyz")
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self._tls, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

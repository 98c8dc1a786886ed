"""In a pod: the namespace and the token come from the service account, and a rotated token is
picked up. The child process sees a service account directory at the real in-cluster path,
/var/run/secrets/kubernetes.io/serviceaccount, through a private mount namespace (unshare),
written the way the kubelet projects it; nothing outside the test's directory is touched."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kubeapi.server import KubeAPIServer
from kubeapi.tls import certificate
from kubereload.volume import AtomicWriter
from support.objects import configmap

WAIT = 30.0
CHILD = """
import sys, kubereload
config = kubereload.watch_configmap("app", key="app.yaml")
print("namespace", config.source.namespace, flush=True)
print("n", config.get()["n"], flush=True)
config.on_change(lambda old, new: print("n", new["n"], flush=True))
sys.stdin.read()
"""
POD = (
    "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount"
    ' && mount --bind "$ACCOUNT" /run/secrets/kubernetes.io/serviceaccount'
    ' && exec "$PYTHON" -c "$CHILD"'
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a private mount namespace needs root and unshare (util-linux)",
)


def test_in_a_pod_the_service_account_gives_namespace_and_rotating_token(
    tmp_path: Path,
) -> None:
    with KubeAPIServer(tls=True, token="first-token", bookmark_interval=0.2) as api:
        api.create(configmap("app", {"app.yaml": "n: 1\n"}, namespace="team-a"))
        account = AtomicWriter(tmp_path / "account")
        ca = certificate()[0].read_bytes()
        account.write({"token": "first-token", "namespace": "team-a", "ca.crt": ca})
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(sys.path),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": api.url.rsplit(":", 1)[1],
            "ACCOUNT": str(tmp_path / "account"),
            "PYTHON": sys.executable,
            "CHILD": CHILD,
            "HOME": str(tmp_path),
        }
        child = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", POD],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert child.stdout is not None
        stdout = child.stdout

        def pump() -> None:
            for line in stdout:
                lines.put(line.strip())

        threading.Thread(target=pump, daemon=True).start()
        try:
            assert lines.get(timeout=WAIT) == "namespace team-a"
            assert lines.get(timeout=WAIT) == "n 1"

            # The kubelet rotates the token; the server stops accepting the old one.
            account.write({"token": "second-token", "namespace": "team-a", "ca.crt": ca})
            api.token = "second-token"
            api.drop_watches()
            api.update(configmap("app", {"app.yaml": "n: 2\n"}, namespace="team-a"))
            assert lines.get(timeout=WAIT) == "n 2"
        finally:
            child.kill()
            _, errors = child.communicate(timeout=WAIT)
        assert "first-token" not in errors and "second-token" not in errors

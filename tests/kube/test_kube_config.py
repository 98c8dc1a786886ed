"""Choosing the cluster and authenticating: kubeconfig contexts, exec plugins, rotated tokens."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from kubereload.kube.config import Cluster, KubeConfigError, async_client, load_config, ssl_context
from kubereload.kube.resources import NAMESPACES


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str | None]

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        body = b'{"kind":"Status"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _kubeconfig(path: Path, server: str, users: dict[str, dict[str, object]]) -> Path:
    conf = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server}}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [
            {"name": name, "context": {"cluster": "local", "user": name, "namespace": f"ns-{name}"}}
            for name in users
        ],
        "current-context": next(iter(users)),
    }
    path.write_text(yaml.safe_dump(conf))
    return path


def _get(config_path: Path, context: str | None) -> None:
    async def go() -> None:
        async with async_client(load_config(config_path, context)) as client:
            await client.list_body(NAMESPACES, None, {})

    asyncio.run(go())


def test_context_selects_user_and_namespace_and_exec_plugin_supplies_token(
    tmp_path: Path, recorder: ThreadingHTTPServer
) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\n"
        'print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",'
        ' "kind": "ExecCredential", "status": {"token": "from-exec"}}))\n'
    )
    url = f"http://127.0.0.1:{recorder.server_address[1]}"
    path = _kubeconfig(
        tmp_path / "config",
        url,
        {
            "static": {"token": "static-token"},
            "exec": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": sys.executable,
                    "args": [str(plugin)],
                }
            },
        },
    )
    assert load_config(path).namespace == "ns-static"
    assert load_config(path, "exec").namespace == "ns-exec"
    _get(path, None)
    _get(path, "exec")
    assert recorder.seen == ["Bearer static-token", "Bearer from-exec"]  # type: ignore[attr-defined]


def test_token_file_is_reread_when_rotated(tmp_path: Path, recorder: ThreadingHTTPServer) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    url = f"http://127.0.0.1:{recorder.server_address[1]}"
    path = _kubeconfig(tmp_path / "config", url, {"sa": {"tokenFile": str(token)}})

    async def go() -> None:
        async with async_client(load_config(path)) as client:
            await client.list_body(NAMESPACES, None, {})
            # The kubelet rotates by writing a new file and renaming it into place.
            (tmp_path / "token.new").write_text("second\n")
            (tmp_path / "token.new").rename(token)
            await client.list_body(NAMESPACES, None, {})

    asyncio.run(go())
    assert recorder.seen == ["Bearer first", "Bearer second"]  # type: ignore[attr-defined]


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("tok")
    (account / "namespace").write_text("pod-ns")
    (account / "ca.crt").write_text("")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = load_config(service_account=str(account))
    assert config.namespace == "pod-ns"
    assert config.server == "https://10.0.0.1:443"
    with pytest.raises(KubeConfigError, match="--context needs a kubeconfig"):
        load_config(context="x", service_account=str(account))


def test_missing_kubeconfig_and_unknown_context_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="not found"):
        load_config(tmp_path / "absent")
    path = _kubeconfig(tmp_path / "config", "http://127.0.0.1:1", {"a": {"token": "t"}})
    with pytest.raises(KubeConfigError, match="context 'nope': not found"):
        load_config(path, "nope")
    assert load_config(path).server == "http://127.0.0.1:1"


def test_errors_name_the_file_and_field_never_a_value(tmp_path: Path) -> None:
    secret = "c2VjcmV0LXRva2VuLXZhbHVl!"  # not base64: the error must not quote it
    conf = {
        "clusters": [{"name": "c", "cluster": {"server": "https://h:6443"}}],
        "users": [{"name": "u", "user": {"client-key-data": secret}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(conf))
    with pytest.raises(KubeConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "'client-key-data' is not valid base64" in str(err.value)
    assert secret not in str(err.value)
    path.write_text(f"users: [{{name: u, user: {{token: {secret}}}}}\n  bad: [\n")
    with pytest.raises(KubeConfigError, match="not valid YAML at line") as err:
        load_config(path)
    assert secret not in str(err.value)


def test_a_kubeconfig_is_read_within_bounds_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"#" * (5 * 1024 * 1024))
    with pytest.raises(KubeConfigError, match="larger than"):
        load_config(big)
    conf = {
        "clusters": [
            {"name": "c", "cluster": {"server": "https://h:6443/", "certificate-authority": "ca"}}
        ],
        "users": [{"name": "u", "user": {"tokenFile": "tok"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "n"}}],
        "current-context": "x",
    }
    path = tmp_path / "dir" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(conf))
    cluster = load_config(path)
    assert cluster.server == "https://h:6443" and cluster.namespace == "n"
    assert (
        cluster.ca_file == tmp_path / "dir" / "ca"
        and cluster.token_file == tmp_path / "dir" / "tok"
    )


def test_an_empty_certificate_authority_is_an_error_not_trust_in_anyone(tmp_path: Path) -> None:
    (tmp_path / "ca").write_text("")
    cluster = Cluster("https://h:6443", "default", "test", ca_file=tmp_path / "ca")
    with pytest.raises(KubeConfigError, match="not a PEM certificate"):
        ssl_context(cluster)

"""The API client follows HTTP(S)_PROXY and NO_PROXY from the environment, as client-go does:
a cluster reachable only through a proxy must work, and an exempt host must not go through it."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from kubeapi.server import KubeAPIServer
from kubereload.kube.config import Cluster, async_client, proxy_for
from kubereload.kube.resources import CONFIGMAPS
from kubereload.kube.stdlib_client import StdlibClient


class ForwardProxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy: relays absolute-form GETs and records their targets."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.path)
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""),
                                 headers=headers)  # fmt: skip
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                upstream.close()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.shutdown()
    server.server_close()


def _names(cluster: Cluster) -> list[str]:
    async def go() -> list[str]:
        async with async_client(cluster) as client:
            listed = json.loads(await client.list_body(CONFIGMAPS, "default", {}))
        return [item["metadata"]["name"] for item in listed["items"]]

    return asyncio.run(go())


def _clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_requests_go_through_the_proxy_from_the_environment(
    cluster_config: Cluster,
    api: KubeAPIServer,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "via", "namespace": "default"},
        }
    )
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert _names(cluster_config) == ["via"]
    assert [urlsplit(p).path for p in proxy.seen] == ["/api/v1/namespaces/default/configmaps"]
    assert proxy.seen[0].startswith(api.url)  # absolute form: the proxy was asked for the server


def test_no_proxy_exempts_the_server(
    cluster_config: Cluster,
    api: KubeAPIServer,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert _names(cluster_config) == []
    assert proxy.seen == []


def test_which_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_proxy_env(monkeypatch)
    assert proxy_for("https://10.0.0.1:6443") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain.corp:3128")
    assert proxy_for("https://10.0.0.1:6443") == "http://proxy.corp:3128"
    assert proxy_for("http://10.0.0.1:8080") == "http://plain.corp:3128"
    monkeypatch.setenv("NO_PROXY", ".svc,.cluster.local,10.0.0.1")
    assert proxy_for("https://10.0.0.1:6443") is None
    assert proxy_for("https://kubernetes.default.svc") is None
    assert proxy_for("https://api.example.com") == "http://proxy.corp:3128"


def test_the_api_sources_client_goes_through_the_proxy_too(
    cluster_config: Cluster,
    api: KubeAPIServer,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    listed = StdlibClient(cluster_config).list(CONFIGMAPS, "default", {})
    assert listed["items"] == []
    assert proxy.seen == [f"{api.url}/api/v1/namespaces/default/configmaps"]

"""The client by verb: each verb against a real HTTP server, and every failure as kubereload's
own error (never the HTTP library's), so nothing above ``kube`` needs to know httpx."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from kubeapi.server import KubeAPIServer
from kubereload.kube.client import KubeClient
from kubereload.kube.config import Cluster, async_client, load_config
from kubereload.kube.errors import (
    ApiError,
    ConflictError,
    KubeError,
    ReadTimeoutError,
    TransportError,
)
from kubereload.kube.resources import CONFIGMAPS, DEPLOYMENTS

MERGE = "application/merge-patch+json"


def configmap(name: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"v": value},
    }


def run(cluster: Cluster, body: object) -> None:
    async def go() -> None:
        async with async_client(cluster) as client:
            await body(client)  # type: ignore[operator]

    asyncio.run(go())


def test_each_verb(cluster_config: Cluster, api: KubeAPIServer) -> None:
    async def body(client: KubeClient) -> None:
        assert await client.get(CONFIGMAPS, "default", "app") is None
        created = await client.create(CONFIGMAPS, "default", configmap("app", "1"))
        rv = created["metadata"]["resourceVersion"]
        got = await client.get(CONFIGMAPS, "default", "app")
        assert got is not None and got["data"] == {"v": "1"}
        patched = await client.patch(CONFIGMAPS, "default", "app", b'{"data":{"v":"2"}}', MERGE)
        assert patched["data"] == {"v": "2"}
        stale = configmap("app", "3")
        stale["metadata"] = {"name": "app", "namespace": "default", "resourceVersion": rv}
        with pytest.raises(ConflictError) as conflict:
            await client.replace(CONFIGMAPS, "default", "app", stale)
        assert conflict.value.code == 409
        page = json.loads(await client.list_body(CONFIGMAPS, "default", {"limit": "10"}))
        assert [i["metadata"]["name"] for i in page["items"]] == ["app"]
        with pytest.raises(ApiError) as missing:
            await client.patch(
                DEPLOYMENTS, "default", "nope", b"{}", "application/merge-patch+json"
            )
        assert missing.value.code == 404
        assert await client.served(CONFIGMAPS)

    run(cluster_config, body)
    assert api.get("v1", "ConfigMap", "default", "app")["data"] == {"v": "2"}  # type: ignore[index]


def test_no_server_is_a_transport_error_not_an_httpx_one(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a free port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with KubeAPIServer() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    text = kubeconfig.read_text().replace(server.url, f"http://127.0.0.1:{port}")
    kubeconfig.write_text(text)

    async def body(client: KubeClient) -> None:
        with pytest.raises(TransportError) as err:
            await client.get(CONFIGMAPS, "default", "app")
        assert type(err.value).__module__ == "kubereload.kube.errors"
        assert isinstance(err.value, KubeError)
        assert not await client.served(CONFIGMAPS)  # unreachable counts as not served

    run(load_config(kubeconfig), body)


def test_a_silent_watch_is_a_read_timeout(cluster_config: Cluster, api: KubeAPIServer) -> None:
    api.stall_watches()

    async def body(client: KubeClient) -> None:
        params = {"watch": "true", "resourceVersion": "0"}
        with pytest.raises(ReadTimeoutError):
            async with client.watch(CONFIGMAPS, "default", params, read_timeout=0.3) as lines:
                async for _line in lines:
                    pass

    try:
        run(cluster_config, body)
    finally:
        api.unstall_watches()

"""The informer against the `cluster` fixture (TLS test server, or a real cluster in e2e mode),
with the changes made by the real kubectl."""

from __future__ import annotations

import asyncio

import pytest

from kubeapi.cluster import Cluster
from kubereload.backoff import Backoff
from kubereload.kube.config import async_client, load_config
from kubereload.kube.informer import Informer
from kubereload.kube.resources import CONFIGMAPS
from support.informer import Recorder, value_of

pytestmark = pytest.mark.e2e


def test_kubectl_changes_reach_the_handler_once_each(cluster: Cluster) -> None:
    ns = cluster.namespace
    kubectl = cluster.kubectl

    async def main() -> None:
        recorder = Recorder()
        async with async_client(load_config(cluster.kubeconfig)) as client:
            informer: Informer[str] = Informer(
                client,
                CONFIGMAPS,
                recorder,
                transform=value_of,
                namespace=ns,
                label_selector="e2e=informer",
                backoff=Backoff(0.05, 1.0),
            )
            task = asyncio.create_task(informer.run())
            try:
                await asyncio.wait_for(informer.synced.wait(), 30)
                await asyncio.to_thread(
                    kubectl.run, "-n", ns, "create", "configmap", "c", "--from-literal=v=1"
                )
                await asyncio.to_thread(
                    kubectl.run, "-n", ns, "label", "configmap", "c", "e2e=informer"
                )
                await asyncio.to_thread(
                    kubectl.run, "-n", ns, "patch", "configmap", "c", "-p", '{"data":{"v":"2"}}'
                )
                await asyncio.to_thread(kubectl.run, "-n", ns, "delete", "configmap", "c")
                await recorder.wait_for(lambda: len(recorder.calls) == 3, timeout=60)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert recorder.calls == [
            ("add", (ns, "c"), None, "1"),
            ("update", (ns, "c"), "1", "2"),
            ("delete", (ns, "c"), "2", None),
        ]
        assert recorder.violations == []

    asyncio.run(main())

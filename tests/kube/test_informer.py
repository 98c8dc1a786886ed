"""The informer against a real-protocol API server: list, watch, resume, relist, stall."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from kubeapi.server import KubeAPIServer
from kubereload.backoff import Backoff
from kubereload.kube.config import Cluster, async_client
from kubereload.kube.informer import Informer
from kubereload.kube.resources import CONFIGMAPS, SECRETS
from support.informer import FAST, Recorder, truth, until_connected, value_of
from support.objects import configmap


def delivered(recorder: Recorder, n: int) -> bool:
    return recorder.view[("default", "a")] == str(n)


async def with_informer(
    config: Cluster,
    body: Callable[[Informer[str], Recorder], Awaitable[None]],
    **options: Any,
) -> None:
    recorder = Recorder()
    async with async_client(config) as client:
        informer: Informer[str] = Informer(
            client, CONFIGMAPS, recorder, transform=value_of, **{**FAST, **options}
        )
        task = asyncio.create_task(informer.run())
        try:
            async with asyncio.timeout(20):
                await informer.synced.wait()
            await body(informer, recorder)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def test_list_then_watch_delivers_each_change_once(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    api.create(configmap("a", {"v": "1"}))
    api.create(configmap("other-ns", {"v": "x"}, namespace="elsewhere"))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        assert rec.calls == [("add", ("default", "a"), None, "1")]
        assert informer.state.synced and informer.synced.is_set()
        api.update(configmap("a", {"v": "2"}))
        api.create(configmap("b", {"v": "1"}))
        api.delete("v1", "ConfigMap", "default", "a")
        await rec.wait_for(lambda: len(rec.calls) == 4)
        assert rec.calls[1:] == [
            ("update", ("default", "a"), "1", "2"),
            ("add", ("default", "b"), None, "1"),
            ("delete", ("default", "a"), "2", None),
        ]
        assert dict(informer.items()) == truth(api) == rec.view
        watches = [t for m, t in api.request_log if "watch=true" in t]
        assert all("allowWatchBookmarks=true" in t for t in watches)
        assert all("namespaces/default/" in t for t in watches)

    asyncio.run(with_informer(cluster_config, body, namespace="default"))


def test_label_and_field_selectors_and_equal_transforms(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    api.create(configmap("in", {"v": "1"}, labels={"team": "a"}))
    api.create(configmap("out", {"v": "1"}, labels={"team": "b"}))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        assert list(informer.keys()) == [("default", "in")]
        # A change the transform does not keep (a label) is not a change for the handler.
        api.update(configmap("in", {"v": "1"}, labels={"team": "a", "extra": "x"}))
        api.update(configmap("out", {"v": "2"}, labels={"team": "b"}))
        api.update(configmap("in", {"v": "3"}, labels={"team": "a", "extra": "x"}))
        # Leaving the selection is a deletion.
        api.update(configmap("in", {"v": "3"}, labels={"team": "b"}))
        await rec.wait_for(lambda: len(rec.calls) == 3)
        assert rec.calls == [
            ("add", ("default", "in"), None, "1"),
            ("update", ("default", "in"), "1", "3"),
            ("delete", ("default", "in"), "3", None),
        ]

    asyncio.run(with_informer(cluster_config, body, label_selector="team=a"))


def test_expired_version_relists_and_emits_exactly_the_missed_changes(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    for name in ("a", "b", "c"):
        api.create(configmap(name, {"v": "1"}))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        # Stop watching, change things, and let the history go: the old version is now 410.
        stale = informer.state.resource_version
        api.update(configmap("a", {"v": "2"}))
        api.delete("v1", "ConfigMap", "default", "b")
        api.create(configmap("d", {"v": "1"}))
        api.update(configmap("c", {"v": "changed"}))
        api.update(configmap("c", {"v": "1"}))  # back to what the handler has: not a change for it
        api.expire_history()
        rec.calls.clear()
        task = asyncio.create_task(informer.run())  # resumes from `stale`
        try:
            await rec.wait_for(lambda: len(rec.calls) == 3)
            await rec.wait_for(lambda: informer.state.relists == 1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(rec.calls) == [
            ("add", ("default", "d"), None, "1"),
            ("delete", ("default", "b"), "1", None),
            ("update", ("default", "a"), "1", "2"),
        ]
        assert rec.view == truth(api) and rec.violations == []
        assert any(f"resourceVersion={stale}" in t for _m, t in api.request_log)
        assert any("continue=" in t for _m, t in api.request_log)

    asyncio.run(_with_paused_informer(cluster_config, body))


async def _with_paused_informer(
    config: Cluster, body: Callable[[Informer[str], Recorder], Awaitable[None]]
) -> None:
    """Sync once, stop the informer, then hand it over (stopped) to ``body``."""
    recorder = Recorder()
    async with async_client(config) as client:
        # Pages of two: the lists go through several ``continue`` tokens.
        informer: Informer[str] = Informer(
            client, CONFIGMAPS, recorder, transform=value_of, page_size=2, **FAST
        )
        task = asyncio.create_task(informer.run())
        async with asyncio.timeout(20):
            await informer.synced.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await body(informer, recorder)


def test_http_410_on_watch_also_relists(api: KubeAPIServer, cluster_config: Cluster) -> None:
    api.create(configmap("a", {"v": "1"}))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        await until_connected(informer)
        api.fail_next(1, 410, path_contains="watch=true")
        api.drop_watches()
        api.update(configmap("a", {"v": "2"}))
        await rec.wait_for(lambda: rec.view == {("default", "a"): "2"})
        await rec.wait_for(lambda: informer.state.relists == 1)
        assert rec.violations == [] and len(rec.calls) == 2

    asyncio.run(with_informer(cluster_config, body))


def test_stalled_watch_is_replaced(api: KubeAPIServer, cluster_config: Cluster) -> None:
    api.create(configmap("a", {"v": "1"}))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        await until_connected(informer)
        api.stall_watches()
        api.update(configmap("a", {"v": "2"}))
        await rec.wait_for(lambda: rec.view == {("default", "a"): "2"})
        assert informer.state.reconnects == 1
        assert informer.state.last_error is not None and "stalled" in informer.state.last_error
        api.unstall_watches()

    # The server ends healthy watches after 1 s; a stalled one is dead 0.5 s after that.
    asyncio.run(with_informer(cluster_config, body, stall_timeout=0.5, watch_timeout=1.0))


def test_server_errors_are_retried_and_retry_after_honoured(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    api.create(configmap("a", {"v": "1"}))

    async def body(informer: Informer[str], rec: Recorder) -> None:
        await until_connected(informer)
        api.fail_next(3, 500, path_contains="watch=true")
        api.fail_next(1, 429, path_contains="watch=true", retry_after=1)
        api.drop_watches()
        api.update(configmap("a", {"v": "2"}))
        await rec.wait_for(lambda: rec.view == {("default", "a"): "2"})
        assert informer.state.reconnects == 5  # the drop, three 500s and the 429
        assert informer.state.last_error is not None and "429" in informer.state.last_error
        assert informer.state.relists == 0  # resumed, never listed again

    asyncio.run(with_informer(cluster_config, body))


def test_an_object_the_transform_cannot_use_is_skipped(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    api.create(configmap("good", {"v": "1"}))
    api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-data"}})

    async def body(informer: Informer[str], rec: Recorder) -> None:
        assert list(informer.keys()) == [("default", "good")]
        api.update(configmap("no-data", {"v": "now-usable"}))
        api.update(configmap("good", {"v": "2"}))
        await rec.wait_for(lambda: len(rec.calls) == 3)
        assert rec.view == {("default", "good"): "2", ("default", "no-data"): "now-usable"}
        assert informer.state.reconnects == 0

    asyncio.run(with_informer(cluster_config, body))


def test_many_informers_share_one_client_and_loop(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    count = 120  # more than httpx's default pool of 100 connections
    for i in range(count):
        api.create(configmap(f"cm-{i}", {"v": "1"}, labels={"shard": str(i)}))

    async def main() -> None:
        recorders = [Recorder() for _ in range(count)]
        async with async_client(cluster_config) as client:
            informers: list[Informer[str]] = [
                Informer(
                    client, CONFIGMAPS, rec, transform=value_of, label_selector=f"shard={i}", **FAST
                )
                for i, rec in enumerate(recorders)
            ]
            tasks = [asyncio.create_task(i.run()) for i in informers]
            try:
                async with asyncio.timeout(30):
                    await asyncio.gather(*(i.synced.wait() for i in informers))
                    for informer in informers:
                        await until_connected(informer)
                api.update(
                    configmap(f"cm-{count - 1}", {"v": "2"}, labels={"shard": str(count - 1)})
                )
                await recorders[-1].wait_for(lambda: len(recorders[-1].calls) == 2)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        assert all(len(rec.calls) == 1 for rec in recorders[:-1])
        assert recorders[-1].view == {("default", f"cm-{count - 1}"): "2"}

    asyncio.run(main())


class RecordingBackoff(Backoff):
    """A Backoff that remembers every delay it handed out."""

    def __init__(self) -> None:
        super().__init__(initial=0.01, maximum=10.0)
        self.delays: list[float] = []

    def next(self) -> float:
        delay = super().next()
        self.delays.append(delay)
        return delay


def test_backoff_starts_over_after_a_watch_that_delivered(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    """Occasional drops of healthy watches, over months, must not ratchet up the delay."""
    api.create(configmap("a", {"v": "0"}))
    backoff = RecordingBackoff()

    async def body(informer: Informer[str], rec: Recorder) -> None:
        for n in range(1, 6):
            await until_connected(informer)
            api.update(configmap("a", {"v": str(n)}))
            await rec.wait_for(partial(delivered, rec, n))
            api.drop_watches()
            async with asyncio.timeout(10):
                while informer.state.reconnects < n:
                    await asyncio.sleep(0.005)
        assert len(backoff.delays) == 5
        assert max(backoff.delays) <= 0.01  # every retry at the initial delay

    asyncio.run(with_informer(cluster_config, body, backoff=backoff))


def test_a_quiet_watch_is_resumed_on_its_timeout_not_judged_stalled(
    api: KubeAPIServer, cluster_config: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """No Secret was ever written: the server sends nothing (as a real one), ending each watch
    after its 1 s; only silence past that plus stall_timeout would mean a dead connection."""
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        recorder = Recorder()
        async with async_client(cluster_config) as client:
            informer: Informer[Any] = Informer(
                client, SECRETS, recorder, watch_timeout=1.0, stall_timeout=0.5
            )
            task = asyncio.create_task(informer.run())
            try:
                async with asyncio.timeout(30):
                    while informer.state.watches < 4:
                        await asyncio.sleep(0.02)
                assert informer.state.reconnects == 0 and informer.state.last_error is None
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    requests = [r for r in caplog.records if r.name == "httpx2"]
    assert requests, "httpx2 logged no request at all"
    assert all(r.levelno == logging.DEBUG for r in requests)  # each request line at DEBUG


def test_connections_to_the_api_have_tcp_keepalive(
    api: KubeAPIServer, cluster_config: Cluster
) -> None:
    """A watch may be silent for minutes; a vanished peer is found by keepalive probes."""

    port = int(api.url.rsplit(":", 1)[1])

    def keepalive_timers() -> list[str]:
        """The kernel's view of our connections to the server: ``ss`` shows a keepalive timer
        (``timer:(keepalive,29sec,0)``) only on sockets with SO_KEEPALIVE set."""
        out = subprocess.run(
            ["ss", "-tno", "state", "established", f"dst 127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return re.findall(r"timer:\(keepalive,(\d+)sec", out)

    async def main() -> None:
        async with async_client(cluster_config) as client:
            params = {"watch": "true", "resourceVersion": "0"}
            async with client.watch(CONFIGMAPS, "default", params, read_timeout=30.0):
                timers = keepalive_timers()
        assert timers, "no keepalive timer on the watch connection"
        assert all(int(t) <= 30 for t in timers)  # TCP_KEEPIDLE 30 s

    asyncio.run(main())

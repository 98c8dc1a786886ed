"""The informer against the real kube-apiserver (envtest): a restart, and silence.

Both were seen only on a real server: after a restart, a resumed watch gets 410 once the
server is back (the back-off grown during the outage then delayed every change by seconds);
and a watch on a quiet resource carries nothing, not even a bookmark, for its whole life.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubereload.backoff import Backoff
from kubereload.kube.config import async_client, load_config
from kubereload.kube.informer import Informer
from kubereload.kube.resources import CONFIGMAPS, SECRETS, Resource
from support.controlplane import ControlPlane
from support.informer import Recorder, until_connected, value_of
from support.objects import configmap

READ = [
    {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]}
]


async def run_informer(
    plane: ControlPlane,
    namespace: str,
    resource: Resource,
    body: Callable[[Informer[Any], Recorder], Awaitable[None]],
    **options: Any,
) -> None:
    """An informer on ``namespace`` as a least-privilege ServiceAccount: synced, then ``body``."""
    reader = await asyncio.to_thread(plane.identity, "reader", namespace, READ)
    recorder = Recorder()
    async with async_client(load_config(reader.kubeconfig)) as client:
        informer: Informer[Any] = Informer(
            client, resource, recorder, namespace=namespace, **options
        )
        task = asyncio.create_task(informer.run())
        try:
            async with asyncio.timeout(60):
                await informer.synced.wait()
            await body(informer, recorder)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def test_after_an_api_server_restart_changes_arrive_as_soon_as_it_is_back(
    control_plane: ControlPlane, control_plane_namespace: str
) -> None:
    ns = control_plane_namespace
    path = f"/api/v1/namespaces/{ns}/configmaps"
    control_plane.ok("POST", path, configmap("a", {"v": "1"}, namespace=None))

    async def body(informer: Informer[Any], rec: Recorder) -> None:
        await until_connected(informer)
        before = informer.state.reconnects
        # A write of another kind moves etcd past every version this watch has seen: the
        # restarted server's watch cache starts there, so resuming gets 410 (as in a cluster,
        # where something is always written) and the informer must list again.
        secret = {"metadata": {"name": "moves-etcd-on"}, "stringData": {"k": "v"}}
        await asyncio.to_thread(
            control_plane.ok, "POST", f"/api/v1/namespaces/{ns}/secrets", secret
        )
        await asyncio.to_thread(control_plane.stop_apiserver)
        try:
            # An outage of six refused attempts: with a back-off of 1 s doubling (to 300 s)
            # the next wait would be 32-64 s if the outage were allowed to grow it.
            await until(lambda: informer.state.reconnects >= before + 6, timeout=120)
        finally:  # the session's other tests need it back, whatever happened here
            await asyncio.to_thread(control_plane.start_apiserver)
        changed = configmap("a", {"v": "2"}, namespace=None)
        await asyncio.to_thread(control_plane.ok, "PUT", f"{path}/a", changed)
        await rec.wait_for(lambda: rec.view.get((ns, "a")) == "2", timeout=25)
        assert informer.state.relists == 1  # the 410, listed again
        assert rec.violations == []
        assert rec.calls == [("add", (ns, "a"), None, "1"), ("update", (ns, "a"), "1", "2")]

    asyncio.run(
        run_informer(
            control_plane,
            ns,
            CONFIGMAPS,
            body,
            transform=value_of,
            backoff=Backoff(1.0, 300.0),
        )
    )


def test_a_quiet_watch_on_the_real_server_is_resumed_on_its_timeout_without_alarm(
    control_plane: ControlPlane, control_plane_namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    ns = control_plane_namespace
    caplog.set_level(logging.INFO)

    async def body(informer: Informer[Any], rec: Recorder) -> None:
        # No Secret in this namespace: the real server sends nothing on these watches, and
        # ends each after its 2 s; a stall detector shorter than that would fire every time.
        await until(lambda: informer.state.watches >= 4, timeout=60)
        assert informer.state.reconnects == 0 and informer.state.last_error is None
        secret = {"metadata": {"name": "s"}, "stringData": {"v": "1"}}
        await asyncio.to_thread(
            control_plane.ok, "POST", f"/api/v1/namespaces/{ns}/secrets", secret
        )
        await rec.wait_for(lambda: (ns, "s") in rec.view, timeout=30)

    asyncio.run(
        run_informer(control_plane, ns, SECRETS, body, watch_timeout=2.0, stall_timeout=1.0)
    )
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert all(r.levelno <= logging.DEBUG for r in caplog.records if r.name.startswith("httpx"))


def test_a_listed_object_reaches_the_transform_whole_but_for_managed_fields(
    control_plane: ControlPlane, control_plane_namespace: str
) -> None:
    """Lists are decoded into the fields kept: everything a watch event carries, less the
    server's managedFields bookkeeping (most of a small object's metadata)."""
    ns = control_plane_namespace
    cm = configmap("whole", {"v": "1"}, namespace=None, labels={"team": "a"})
    cm["metadata"]["annotations"] = {"note": "kept"}
    cm["binaryData"] = {"b": "AAE="}
    control_plane.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    listed = control_plane.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/whole")
    assert "managedFields" in listed["metadata"]  # the real server does write them

    async def body(informer: Informer[Any], rec: Recorder) -> None:
        seen = informer.get((ns, "whole"))
        assert seen is not None
        expected = {k: v for k, v in listed.items() if k not in ("apiVersion", "kind")}
        expected["metadata"] = {k: v for k, v in listed["metadata"].items() if k != "managedFields"}
        assert seen == expected

    asyncio.run(run_informer(control_plane, ns, CONFIGMAPS, body))

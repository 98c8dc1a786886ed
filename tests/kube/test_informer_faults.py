"""1000 changes under random disconnects, stalls, expired histories and server errors.

What "exact" means here, per object key, with ``writes`` the values in the order the server
stored them (a deletion counts as a write of "gone"):
- replayed as a state machine, the handler calls are consistent: an add only for a key the
  handler does not have, an update's and a delete's ``old`` is what it was last given, and an
  update never repeats the value it replaces (no duplicates);
- the values delivered appear in ``writes`` in strictly increasing positions: nothing is
  delivered twice, nothing goes back in time;
- the last write is the last thing delivered, so every write was delivered or superseded by a
  later one that was; and the handler's view, the informer's cache and the server agree.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from kubeapi.server import KubeAPIServer
from kubereload.kube.config import Cluster, async_client
from kubereload.kube.informer import Informer, Key
from kubereload.kube.resources import CONFIGMAPS
from support.informer import FAST, Recorder, truth, until_connected, value_of
from support.objects import configmap

GONE = "gone"


async def _torture(api: KubeAPIServer, config: Cluster, seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"cm-{i}" for i in range(20)]
    writes: dict[Key, list[str]] = {("default", k): [] for k in keys}
    for name in keys[:10]:
        api.create(configmap(name, {"v": f"{name}#0"}))
        writes[("default", name)].append(f"{name}#0")
    recorder = Recorder()
    faults = {"drop": 0, "stall": 0, "expire": 0, "error": 0}
    async with async_client(config) as client:
        informer: Informer[str] = Informer(
            client,
            CONFIGMAPS,
            recorder,
            transform=value_of,
            page_size=7,
            **{**FAST, "stall_timeout": 0.4, "watch_timeout": 1.0},
        )
        task = asyncio.create_task(informer.run())
        await informer.synced.wait()
        stalled = False
        for seq in range(1, 1001):
            name = rng.choice(keys)
            key = ("default", name)
            exists = bool(writes[key]) and writes[key][-1] != GONE
            value = f"{name}#{seq}"
            if exists and rng.random() < 0.1:
                api.delete("v1", "ConfigMap", "default", name)
                writes[key].append(GONE)
            elif exists:
                api.update(configmap(name, {"v": value}))
                writes[key].append(value)
            else:
                api.create(configmap(name, {"v": value}))
                writes[key].append(value)
            if seq % 20 == 0:
                fault = rng.choice(list(faults))
                faults[fault] += 1
                if fault == "drop":
                    api.drop_watches()
                elif fault == "stall" and not stalled:
                    await until_connected(informer)
                    api.stall_watches()
                    stalled = True
                elif fault == "expire":
                    api.expire_history()
                elif fault == "error":
                    api.fail_next(rng.randint(1, 3), rng.choice([500, 503]), path_contains="watch")
                    api.drop_watches()
            if stalled and seq % 20 == 10:
                api.unstall_watches()
                stalled = False
            # Let the informer run sometimes mid-burst, sometimes catch up fully.
            if rng.random() < 0.2:
                await asyncio.sleep(0)
            if rng.random() < 0.02:
                await recorder.wait_for(lambda: recorder.view == truth(api))
        api.unstall_watches()
        final = truth(api)
        await recorder.wait_for(lambda: recorder.view == final, timeout=60)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert recorder.violations == []
    assert recorder.view == final == dict(informer.items())
    delivered: dict[Key, list[str]] = {key: [] for key in writes}
    for kind, key, _old, new in recorder.calls:
        delivered[key].append(GONE if kind == "delete" else str(new))
    for key, values in delivered.items():
        assert _in_order(values, writes[key]), f"{key}: twice or out of order: {values}"
        if writes[key]:
            # A key created and deleted while unseen has nothing to deliver: fine.
            assert (values[-1] if values else GONE) == writes[key][-1], f"{key}: final missed"
    state = informer.state
    assert state.reconnects >= faults["drop"] // 2, (state, faults)
    assert state.relists >= 1, (state, faults)
    total = len(recorder.calls)
    assert total <= sum(len(w) for w in writes.values())


def _in_order(delivered: list[str], history: list[str]) -> bool:
    """Each delivered value is found in ``history`` strictly after the previous one."""
    position = -1
    for value in delivered:
        try:
            position = history.index(value, position + 1)
        except ValueError:
            return False
    return True


@pytest.mark.parametrize("seed", [4, 2026])
def test_informer_survives_faults_exactly(
    api: KubeAPIServer, cluster_config: Cluster, seed: int
) -> None:
    asyncio.run(_torture(api, cluster_config, seed=seed))

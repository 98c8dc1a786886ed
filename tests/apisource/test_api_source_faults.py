"""The API source under faults the test server injects on demand: an outage, dropped watches,
expired history (410), server errors. The last good value stays, the source says it is
disconnected while it is, and every version is delivered in order or superseded, none twice."""

from __future__ import annotations

import random
import threading
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import kubereload
from kubeapi.server import KubeAPIServer
from kubereload import Config
from support.objects import configmap

WAIT = 30.0


def at_version(version: str, config: Config[Any]) -> bool:
    """Whether ``config`` has delivered that version to its callbacks."""
    return config.delivered_version == version


def _watch(kubeconfig: Path) -> Config[Any]:
    return kubereload.watch_configmap("app", key="app.yaml", kubeconfig=kubeconfig)


def _set(api: KubeAPIServer, n: int) -> str:
    updated = api.update(configmap("app", {"app.yaml": f"n: {n}\n"}))
    return str(updated["metadata"]["resourceVersion"])


class Deliveries:
    """Every value and version ``on_change`` receives, in order."""

    def __init__(self, config: Config[Any]) -> None:
        self.config = config
        self.values: list[int] = []
        self.versions: list[int] = []
        config.on_change(self._record)

    def _record(self, _old: Any, new: Any) -> None:
        self.values.append(new["n"])
        self.versions.append(int(self.config.version or 0))

    def assert_in_order_none_twice(self, last: int) -> None:
        assert self.values == sorted(set(self.values)), self.values  # increasing, no repeats
        assert self.versions == sorted(set(self.versions)), self.versions
        assert self.values[-1] == last


def test_an_outage_keeps_the_value_says_disconnected_and_recovers(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    with _watch(kubeconfig) as config:
        assert config.health() is None
        api.fail_next(1_000_000, 503)  # every request fails until cleared: the API is gone
        api.drop_watches()
        assert config.wait_until(lambda c: "disconnected" in str(c.error), WAIT)
        health = config.health()
        assert health is not None and "disconnected from the API server" in health
        assert config.get() == {"n": 0}

        api.clear_faults()
        assert config.wait_until(lambda c: c.error is None, WAIT)
        assert config.health() is None and config.get() == {"n": 0}
        version = _set(api, 1)
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)


def test_a_change_made_during_an_outage_arrives_after_it(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    with _watch(kubeconfig) as config:
        deliveries = Deliveries(config)
        api.fail_next(1_000_000, 503)
        api.drop_watches()
        assert config.wait_until(lambda c: "disconnected" in str(c.error), WAIT)
        for n in (1, 2, 3):
            version = _set(api, n)
        api.expire_history()  # the outage outlived the server's history: resuming gets 410
        api.clear_faults()
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)
        assert config.get() == {"n": 3} and config.error is None and config.health() is None
        deliveries.assert_in_order_none_twice(3)


def test_a_bad_version_stays_reported_across_a_reconnect(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    with _watch(kubeconfig) as config:
        updated = api.update(configmap("app", {"app.yaml": "n: [\n"}))
        bad = str(updated["metadata"]["resourceVersion"])
        assert config.wait_until(lambda c: c.error is not None and c.error.version == bad, WAIT)
        api.fail_next(1_000_000, 503)
        api.drop_watches()
        assert config.wait_until(lambda c: "disconnected" in str(c.error), WAIT)
        api.clear_faults()
        # Back online: the complaint about the bad version returns, not "all is well".
        assert config.wait_until(lambda c: c.error is not None and c.error.version == bad, WAIT)
        assert config.get() == {"n": 0}


@pytest.mark.slow
def test_every_version_in_order_or_superseded_none_twice_under_faults(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    """Bursts of updates, each ended by a fault; every fault is survived before the next."""
    rng = random.Random(12)
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    with _watch(kubeconfig) as config:
        deliveries = Deliveries(config)
        faults = {"drop": 0, "expire": 0, "error": 0}
        n = 0
        for _burst in range(24):
            for _ in range(rng.randint(1, 12)):
                n += 1
                version = _set(api, n)
            fault = rng.choice(list(faults))
            faults[fault] += 1
            if fault == "expire":
                api.expire_history()
            elif fault == "error":
                api.fail_next(rng.randint(1, 3), rng.choice([500, 503]), path_contains="watch")
            api.drop_watches()
            assert config.wait_until(partial(at_version, version), WAIT)
        assert min(faults.values()) > 0
        deliveries.assert_in_order_none_twice(n)
        assert config.error is None and config.health() is None


def test_closing_from_a_callback_does_not_hang(api: KubeAPIServer, kubeconfig: Path) -> None:
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    config = _watch(kubeconfig)
    closed = threading.Event()

    def close_now(_old: Any, _new: Any) -> None:
        config.close()
        closed.set()

    config.on_change(close_now)
    (loop_thread,) = [t for t in threading.enumerate() if t.name == "kubereload-api"]
    _set(api, 1)
    assert closed.wait(WAIT)
    loop_thread.join(WAIT)  # the loop finishes the stop after the callback, then ends
    assert not loop_thread.is_alive()
    assert config.get() == {"n": 1}


def test_an_api_server_down_at_start_fails_in_time_or_serves_the_default_until_back(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "n: 1\n"}, namespace="default"))
    api.fail_next(1_000_000, 503)
    with pytest.raises(kubereload.ConfigError, match=r"no answer from the API server in 1 s"):
        kubereload.watch_configmap("app", key="app.yaml", kubeconfig=kubeconfig, timeout=1)

    with kubereload.watch_configmap(
        "app", key="app.yaml", kubeconfig=kubeconfig, timeout=1, default={"n": 0}
    ) as config:
        assert config.get() == {"n": 0} and config.version is None
        assert "disconnected from the API server (503" in str(config.health())
        api.clear_faults()
        assert config.wait_until(lambda c: c.delivered_version is not None, WAIT)
        assert config.get() == {"n": 1} and config.error is None and config.health() is None

"""The API source's one-object watch on the standard library's HTTP client: a watch that goes
silent past its own timeout is judged dead and resumed, without missing the version sent
meanwhile; a watch the server ends is resumed from its resourceVersion."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from kubeapi.server import KubeAPIServer
from kubereload.apisource.loop import WatchThread
from kubereload.apisource.watcher import ObjectWatch, StalledWatch
from kubereload.kube.config import load_config
from kubereload.kube.resources import CONFIGMAPS
from kubereload.kube.stdlib_client import StdlibClient
from support.objects import configmap

WAIT = 30.0


class Recorder:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.values: list[str] = []
        self.errors: list[Exception] = []
        self.connected = 0

    def on_add(self, obj: str) -> None:
        self._record(obj)

    def on_update(self, _old: str, new: str) -> None:
        self._record(new)

    def on_delete(self, _old: str) -> None:
        self._record("deleted")

    def on_synced(self) -> None:
        pass

    def on_connection(self, error: Exception | None) -> None:
        with self.cond:
            if error is None:
                self.connected += 1
            else:
                self.errors.append(error)
            self.cond.notify_all()

    def on_broken(self, exc: BaseException) -> None:
        raise AssertionError(f"the watch stopped on {type(exc).__name__}")

    def _record(self, value: str) -> None:
        with self.cond:
            self.values.append(value)
            self.cond.notify_all()

    def wait(self, predicate: Any) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), WAIT)


def _value(obj: dict[str, Any]) -> str:
    return str(obj["data"]["app.yaml"])


def test_a_silent_watch_is_judged_stalled_and_resumed_without_a_gap(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "n: 0\n"}))
    recorder = Recorder()
    watch: ObjectWatch[str] = ObjectWatch(
        StdlibClient(load_config(kubeconfig)),
        CONFIGMAPS,
        "default",
        "app",
        recorder,
        transform=_value,
        on_connection=recorder.on_connection,
        watch_timeout=1.0,
        stall_timeout=0.4,
    )
    threads = WatchThread()
    threads.add(watch, recorder.on_broken)
    try:
        assert recorder.wait(lambda r: r.values == ["n: 0\n"] and r.connected >= 1)
        api.stall_watches()  # the open watch sends nothing more, not even a bookmark
        api.update(configmap("app", {"app.yaml": "n: 1\n"}))
        assert recorder.wait(lambda r: any(isinstance(e, StalledWatch) for e in r.errors))
        api.unstall_watches()
        assert recorder.wait(lambda r: r.values == ["n: 0\n", "n: 1\n"])
        api.update(configmap("app", {"app.yaml": "n: 2\n"}))
        assert recorder.wait(lambda r: r.values[-1] == "n: 2\n")
        assert recorder.values == ["n: 0\n", "n: 1\n", "n: 2\n"]  # none twice
    finally:
        threads.remove(watch, timeout=WAIT)
    assert threads.thread is None

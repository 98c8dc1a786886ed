"""The library's API source on the test server and on the real kube-apiserver (envtest):
``watch_configmap``/``watch_secret`` give the same ``Config`` as a mounted file does."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from functools import partial
from typing import Any

import pytest
from pydantic import BaseModel

import kubereload
from kubeapi.cluster import Cluster
from kubereload import Config, ConfigError
from support.kubectl import kubectl_patch
from support.objects import configmap, secret

WAIT = 30.0


class Settings(BaseModel):
    level: str
    workers: int = 1


def failed_at(version: str, config: Config[Any]) -> bool:
    """Whether ``config`` reports an error for exactly that version."""
    return config.error is not None and config.error.version == version


def resource_version(cluster: Cluster, kind: str, name: str) -> str:
    obj = cluster.get("v1", kind, None, name)
    assert obj is not None
    return str(obj["metadata"]["resourceVersion"])


def test_a_patch_reaches_get(cluster: Cluster) -> None:
    cluster.create(
        configmap("app-config", {"app.yaml": "level: info\n", "other": "x"}, namespace=None)
    )
    seen: list[tuple[Settings, Settings]] = []
    with kubereload.watch_configmap(
        "app-config",
        key="app.yaml",
        model=Settings,
        namespace=cluster.namespace,
        kubeconfig=cluster.kubeconfig,
    ) as config:
        assert config.get() == Settings(level="info")
        assert config.version == resource_version(cluster, "ConfigMap", "app-config")
        assert config.mode == "api-watch" and config.health() is None and config.error is None
        config.on_change(lambda old, new: seen.append((old, new)))

        version = kubectl_patch(cluster, "configmap", "app-config", {"app.yaml": "level: debug\n"})
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)
        assert config.get() == Settings(level="debug")
        assert seen == [(Settings(level="info"), Settings(level="debug"))]

        # Another key of the same object changes: no new version of ours, no callback.
        other = kubectl_patch(cluster, "configmap", "app-config", {"other": "y"})
        final = kubectl_patch(cluster, "configmap", "app-config", {"app.yaml": "level: warn\n"})
        assert config.wait_until(lambda c: c.delivered_version == final, WAIT)
        assert other != final and len(seen) == 2


def test_a_bad_update_keeps_the_last_good_value_with_its_position(cluster: Cluster) -> None:
    cluster.create(
        configmap("app-config", {"app.yaml": "level: info\nworkers: 2\n"}, namespace=None)
    )
    with kubereload.watch_configmap(
        "app-config",
        key="app.yaml",
        model=Settings,
        namespace=cluster.namespace,
        kubeconfig=cluster.kubeconfig,
    ) as config:
        good = config.version
        bad = kubectl_patch(cluster, "configmap", "app-config", {"app.yaml": "level: [info\n"})
        assert config.wait_until(lambda c: c.error is not None and c.error.version == bad, WAIT)
        assert config.get() == Settings(level="info", workers=2) and config.version == good
        assert config.error is not None
        assert (config.error.file, config.error.line) == ("app.yaml", 2)

        wrong = kubectl_patch(
            cluster, "configmap", "app-config", {"app.yaml": "level: info\nworkers: many\n"}
        )
        assert config.wait_until(lambda c: c.error is not None and c.error.version == wrong, WAIT)
        error = config.error
        assert error is not None
        assert (error.file, error.line, error.column) == ("app.yaml", 2, 10)
        assert "workers" in str(error) and config.version == good
        assert config.health() is None  # a rejected edit is no reason to leave the load balancer

        fixed = kubectl_patch(
            cluster, "configmap", "app-config", {"app.yaml": "level: info\nworkers: 3\n"}
        )
        assert config.wait_until(lambda c: c.delivered_version == fixed, WAIT)
        assert config.get() == Settings(level="info", workers=3) and config.error is None


def test_the_whole_object_is_a_mapping_of_keys_parsed_by_extension(cluster: Cluster) -> None:
    obj = configmap(
        "app-config", {"app.yaml": "a: 1\n", "flags.json": '{"on": true}'}, namespace=None
    )
    obj["binaryData"] = {"logo.bin": base64.b64encode(b"\x89PNG\x00").decode()}
    cluster.create(obj)
    with kubereload.watch_configmap(
        "app-config", namespace=cluster.namespace, kubeconfig=cluster.kubeconfig
    ) as config:
        assert config.get() == {
            "app.yaml": {"a": 1},
            "flags.json": {"on": True},
            "logo.bin": b"\x89PNG\x00",
        }
        assert config.snapshot is not None
        assert config.snapshot.files["logo.bin"] == b"\x89PNG\x00"


def test_a_secret_key_is_served_decoded(cluster: Cluster) -> None:
    cluster.create(
        secret("db", {"db.json": b'{"user": "app", "password": "hunter2"}'}, namespace=None)
    )
    with kubereload.watch_secret(
        "db", key="db.json", namespace=cluster.namespace, kubeconfig=cluster.kubeconfig
    ) as config:
        assert config.get() == {"user": "app", "password": "hunter2"}
        new = base64.b64encode(b'{"user": "app", "password": "rotated"}').decode()
        version = kubectl_patch(cluster, "secret", "db", {"db.json": new})
        assert config.wait_until(lambda c: c.delivered_version == version, WAIT)
        assert config.get()["password"] == "rotated"


def test_missing_object_or_key_fails_the_first_load_or_serves_the_default(
    cluster: Cluster,
) -> None:
    where: dict[str, Any] = {"namespace": cluster.namespace, "kubeconfig": cluster.kubeconfig}
    with pytest.raises(ConfigError, match="not found"):
        kubereload.watch_configmap("app-config", key="app.yaml", **where)
    cluster.create(configmap("app-config", {"other.yaml": "a: 1\n"}, namespace=None))
    with pytest.raises(ConfigError, match=r"has no key app\.yaml"):
        kubereload.watch_configmap("app-config", key="app.yaml", **where)

    with kubereload.watch_configmap(
        "late", key="app.yaml", default={"level": "default"}, **where
    ) as config:
        assert config.get() == {"level": "default"} and config.version is None
        assert config.error is not None and "not found" in str(config.error)
        cluster.create(configmap("late", {"app.yaml": "level: info\n"}, namespace=None))
        assert config.wait_until(lambda c: c.delivered_version is not None, WAIT)
        assert config.get() == {"level": "info"} and config.error is None


def test_a_deleted_object_keeps_the_last_value_and_says_so(cluster: Cluster) -> None:
    cluster.create(configmap("app-config", {"app.yaml": "level: info\n"}, namespace=None))
    where: dict[str, Any] = {"namespace": cluster.namespace, "kubeconfig": cluster.kubeconfig}
    with (
        kubereload.watch_configmap("app-config", key="app.yaml", **where) as kept,
        kubereload.watch_configmap(
            "app-config", key="app.yaml", deleted="error", **where
        ) as strict,
    ):
        cluster.delete("v1", "ConfigMap", None, "app-config")
        for config in (kept, strict):
            assert config.wait_until(lambda c: "deleted" in str(c.error), WAIT)
            assert config.get() == {"level": "info"}
        assert kept.health() is None
        assert strict.health() is not None and "deleted" in str(strict.health())

        cluster.create(configmap("app-config", {"app.yaml": "level: back\n"}, namespace=None))
        for config in (kept, strict):
            assert config.wait_until(
                lambda c: c.get() == {"level": "back"} and c.error is None, WAIT
            )
            assert config.error is None and config.health() is None


def test_changes_on_the_callers_event_loop(cluster: Cluster) -> None:
    """An asyncio application: no loop of its own is borrowed, changes() yields on its loop."""
    cluster.create(configmap("app-config", {"app.yaml": "n: 0\n"}, namespace=None))

    async def main() -> list[Any]:
        config: Config[Any] = await asyncio.to_thread(
            kubereload.watch_configmap,
            "app-config",
            key="app.yaml",
            namespace=cluster.namespace,
            kubeconfig=cluster.kubeconfig,
        )
        received: list[Any] = []
        subscribed = asyncio.Event()

        async def consume() -> None:
            changes = config.changes()
            first = asyncio.ensure_future(anext(changes))
            await asyncio.sleep(0)
            subscribed.set()
            received.append(await first)
            async for value in changes:
                received.append(value)
                if value == {"n": 2}:
                    return

        task = asyncio.create_task(consume())
        await subscribed.wait()
        for n in (1, 2):
            await asyncio.to_thread(
                kubectl_patch, cluster, "configmap", "app-config", {"app.yaml": f"n: {n}\n"}
            )
        await asyncio.wait_for(task, WAIT)
        await asyncio.to_thread(config.close)
        return received

    received = asyncio.run(main())
    assert received[-1] == {"n": 2} and received in ([{"n": 1}, {"n": 2}], [{"n": 2}])


def test_a_secret_never_appears_in_logs_or_errors(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    value = "s3cr3t-Zq9"
    cluster.create(
        secret("creds", {"creds.yaml": f"token: {value}\nport: 1\n".encode()}, namespace=None)
    )

    class Creds(BaseModel):
        token: str
        port: int

    with caplog.at_level(logging.DEBUG):
        config = kubereload.watch_secret(
            "creds",
            key="creds.yaml",
            model=Creds,
            namespace=cluster.namespace,
            kubeconfig=cluster.kubeconfig,
        )
        texts = []
        for body in (f"token: [{value}\n", f"token: x\nport: {value}\n", f"{value}: : :\n"):
            encoded = base64.b64encode(body.encode()).decode()
            version = kubectl_patch(cluster, "secret", "creds", {"creds.yaml": encoded})
            assert config.wait_until(partial(failed_at, version), WAIT)
            texts += [str(config.error), repr(config.error)]
        cluster.delete("v1", "Secret", None, "creds")
        assert config.wait_until(lambda c: "deleted" in str(c.error), WAIT)
        texts += [repr(config), repr(config.snapshot), str(config.error), str(config.health())]
        config.close()
    texts += [r.getMessage() for r in caplog.records]
    texts += [json.dumps(r.args, default=repr) for r in caplog.records if r.args]
    assert config.get().token == value  # the value is there, served to the app only
    assert not [t for t in texts if value in t]


def test_one_loop_thread_for_all_api_sources_and_none_after_close(cluster: Cluster) -> None:
    cluster.create(configmap("a", {"app.yaml": "a: 1\n"}, namespace=None))
    where: dict[str, Any] = {"namespace": cluster.namespace, "kubeconfig": cluster.kubeconfig}
    first = kubereload.watch_configmap("a", key="app.yaml", **where)
    second = kubereload.watch_configmap("a", **where)
    ours = [t for t in threading.enumerate() if t.name.startswith("kubereload")]
    assert [t.name for t in ours] == ["kubereload-api"]
    first.close()
    assert ours[0].is_alive() and second.get() == {"app.yaml": {"a": 1}}
    second.close()
    assert not ours[0].is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("kubereload")]

"""``kubereload sync`` end to end: a real process, the API server, files, and a webhook."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import yaml

from kubeapi.server import KubeAPIServer
from kubereload.volume import read_snapshot
from support.objects import configmap, secret
from support.process import Proc, http_get, kubereload, wait_until
from support.webhook import Receiver

SECRET_VALUE = "hunter2-do-not-log-me"


def sync(kubeconfig: Path, *args: str) -> Proc:
    return kubereload("sync", "--kubeconfig", str(kubeconfig), "--log-level", "debug", *args)


def files(directory: Path) -> dict[str, bytes]:
    return dict(read_snapshot(directory).files)


def test_change_swaps_files_then_calls_webhook(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(configmap("app", {"app.yaml": "message: one\n", "extra": "x"}))
    target = tmp_path / "config"
    proc = sync(
        kubeconfig,
        "--configmap",
        "app",
        "--dir",
        str(target),
        "--webhook",
        receiver.url,
        "--listen",
        "127.0.0.1:0",
    )
    try:
        port = proc.listening_port()
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        receiver.wait_calls(1)  # the first write changed an empty directory
        assert files(target) == {"app.yaml": b"message: one\n", "extra": b"x"}
        first = os.readlink(target / "..data")
        assert os.readlink(target / "app.yaml") == "..data/app.yaml"
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200

        api.update(configmap("app", {"app.yaml": "message: two\n"}))
        receiver.wait_calls(2)
        assert files(target) == {"app.yaml": b"message: two\n"}
        assert os.readlink(target / "..data") != first
        assert not (target / "extra").exists()
        assert not (target / first).exists()  # the old version is cleaned up

        # A change the files do not show (a label) writes nothing and reloads nothing.
        api.update(configmap("app", {"app.yaml": "message: two\n"}, labels={"team": "x"}))
        api.update(configmap("app", {"app.yaml": "message: three\n"}, labels={"team": "x"}))
        receiver.wait_calls(3)
        # The reload counter moves just after the webhook returns: wait for it.
        wait_until(
            lambda: 'reloads_total{result="success"} 3' in http_get(metrics_url)[1],
            what="the third reload counted",
        )
        metrics = http_get(metrics_url)[1]
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    assert len(receiver.calls) == 3
    assert (
        'kubereload_informer_synced{source="configmaps namespace default '
        'fields metadata.name=app"} 1' in metrics
    )
    assert 'kubereload_reloads_total{result="success"} 3' in metrics


def test_selector_writes_one_directory_per_object_and_removes_deleted(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(configmap("a", {"k": "a1"}, labels={"team": "x"}))
    api.create(configmap("b", {"k": "b1"}, labels={"team": "x"}))
    api.create(configmap("c", {"k": "c1"}, labels={"team": "other"}))
    api.create(secret("s", {"k": SECRET_VALUE.encode()}))
    proc = sync(
        kubeconfig,
        "--selector",
        "team=x",
        "--kind",
        "both",
        "--dir",
        str(tmp_path / "out"),
        "--on-delete",
        "remove",
        "--webhook",
        receiver.url,
    )
    try:
        receiver.wait_calls(1)
        out = tmp_path / "out"
        assert sorted(os.listdir(out)) == ["configmap_default_a", "configmap_default_b"]
        assert files(out / "configmap_default_a") == {"k": b"a1"}

        api.create(configmap("d", {"k": "d1"}, labels={"team": "x"}))
        receiver.wait_calls(2)
        assert files(out / "configmap_default_d") == {"k": b"d1"}

        api.delete("v1", "ConfigMap", "default", "a")
        receiver.wait_calls(3)
        assert sorted(os.listdir(out)) == ["configmap_default_b", "configmap_default_d"]
    finally:
        proc.stop()
    assert len(receiver.calls) == 3
    assert "first sync done: 2 objects" in proc.output()
    assert "configmap default/a was deleted; removed" in proc.output()


def test_deleted_object_files_are_kept_by_default(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(configmap("app", {"k": "v"}))
    proc = sync(kubeconfig, "--configmap", "app", "--dir", str(tmp_path), "--webhook", receiver.url)
    try:
        receiver.wait_calls(1)
        api.delete("v1", "ConfigMap", "default", "app")
        # the message is the only sign that the deletion was seen and nothing removed
        proc.wait_logged(
            r"configmap default/app was deleted; kept its files in .*\(--on-delete keep\)"
        )
        assert files(tmp_path) == {"k": b"v"}
        api.create(configmap("app", {"k": "back"}))
        receiver.wait_calls(2)
        assert files(tmp_path) == {"k": b"back"}
    finally:
        proc.stop()


def test_secret_is_decoded_and_its_values_never_logged(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(secret("db", {"password": SECRET_VALUE.encode(), "blob": b"\x00\x01\xff"}))
    proc = sync(
        kubeconfig,
        "--secret",
        "db",
        "--dir",
        str(tmp_path / "s"),
        "--mode",
        "0600",
        "--items",
        "password=creds/password",
        "--items",
        "missing=x",
        "--webhook",
        receiver.url,
        "--log-format",
        "json",
    )
    try:
        receiver.wait_calls(1)
        assert files(tmp_path / "s") == {"creds/password": SECRET_VALUE.encode()}
        assert (tmp_path / "s" / "creds" / "password").stat().st_mode & 0o777 == 0o600
        api.update(secret("db", {"password": b"second-" + SECRET_VALUE.encode()}))
        receiver.wait_calls(2)
    finally:
        proc.stop()
    output = proc.output()
    assert "'missing' named in --items is not in the object" in output
    assert SECRET_VALUE not in output
    assert base64.b64encode(SECRET_VALUE.encode()).decode() not in output
    assert "test-token" not in output


def test_unsafe_paths_are_refused_and_the_rest_written(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "linked")
    api.create(configmap("app", {"a": "1", "b": "2", "c": "3", "d": "4"}))
    proc = sync(
        kubeconfig,
        "--configmap",
        "app",
        "--dir",
        str(target),
        "--items",
        "a=../escape",
        "--items",
        "b=/abs",
        "--items",
        "c=linked/c",
        "--items",
        "d=ok/d",
        "--webhook",
        receiver.url,
    )
    try:
        receiver.wait_calls(1)
    finally:
        proc.stop()
    output = proc.output()
    assert "refused key 'a': invalid path '../escape': must not contain '..'" in output
    assert "refused key 'b': invalid path '/abs': must be a relative path" in output
    assert re.search(
        r"refused key 'c': path 'linked/c' is refused: .* is a symlink not written", output
    )
    assert files(target) == {"ok/d": b"4"}
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape").exists()


def test_once_writes_and_exits(api: KubeAPIServer, kubeconfig: Path, tmp_path: Path) -> None:
    api.create(configmap("app", {"k": "v"}))
    api.create(secret("tls", {"tls.key": b"KEY"}, namespace="prod"))
    proc = sync(
        kubeconfig,
        "--once",
        "--configmap",
        "app",
        "--secret",
        "prod/tls",
        "--dir",
        str(tmp_path),
    )
    assert proc.wait(30) == 0, proc.output()
    assert files(tmp_path / "configmap_default_app") == {"k": b"v"}
    assert files(tmp_path / "secret_prod_tls") == {"tls.key": b"KEY"}
    assert b"KEY" not in proc.output().encode()

    missing = sync(
        kubeconfig,
        "--once",
        "--configmap",
        "app",
        "--configmap",
        "absent",
        "--dir",
        str(tmp_path / "m"),
    )
    assert missing.wait(30) == 1
    assert "configmap default/absent not found" in missing.output()
    assert files(tmp_path / "m" / "default_app") == {"k": b"v"}


def test_once_fails_when_a_key_asked_for_was_not_written(
    api: KubeAPIServer, kubeconfig: Path, tmp_path: Path
) -> None:
    """An init container must not let the app start on a directory missing what it asked for."""
    api.create(configmap("app", {"app.yaml": "a: 1\n", "other": "x"}))
    cases = [
        (("--items", "app.yaml=../escape.yaml"), "key 'app.yaml'"),
        (("--items", "nope=conf.yaml"), "'nope' named in --items is not in the object"),
    ]
    for n, (flags, reason) in enumerate(cases):
        out = tmp_path / f"out{n}"
        proc = sync(kubeconfig, "--once", "--configmap", "app", *flags, "--dir", str(out))
        assert proc.wait(30) == 1, proc.output()
        verdicts = [line for line in proc.output().splitlines() if "sync --once failed" in line]
        assert len(verdicts) == 1 and reason in verdicts[0], proc.output()
        assert "configmap default/app" in verdicts[0]
        assert files(out) == {}  # nothing asked for was written, and nothing else either
    assert not (tmp_path / "escape.yaml").exists()

    partly = sync(
        kubeconfig,
        "--once",
        "--configmap",
        "app",
        "--items",
        "app.yaml=conf/app.yaml",
        "--items",
        "absent=x",
        "--dir",
        str(tmp_path / "partly"),
    )
    assert partly.wait(30) == 1
    assert "'absent' named in --items" in partly.output()
    assert files(tmp_path / "partly") == {"conf/app.yaml": b"a: 1\n"}  # the rest is written


def test_once_fails_clearly_without_access(
    api: KubeAPIServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api.token = "another-token"
    proc = sync(kubeconfig, "--once", "--configmap", "app", "--dir", str(tmp_path))
    assert proc.wait(30) == 1
    assert "401" in proc.output()


def test_usage_errors_are_said_before_anything_runs(kubeconfig: Path, tmp_path: Path) -> None:
    for args, message in [
        ((), "nothing to sync"),
        (("--configmap", "a", "--selector", "x=y"), "not both"),
        (("--configmap", "a/b/c"), "expected NAME or NAMESPACE/NAME"),
        (("--configmap", "a", "--items", "novalue"), "expected KEY=PATH"),
    ]:
        proc = sync(kubeconfig, "--dir", str(tmp_path), *args)
        assert proc.wait() == 2, args
        assert message in proc.output()
    missing = sync(tmp_path / "no-such-kubeconfig", "--configmap", "a", "--dir", str(tmp_path))
    assert missing.wait() == 1
    assert "no-such-kubeconfig" in missing.output()


def test_selector_across_namespaces(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(configmap("a", {"k": "1"}, namespace="team-a", labels={"dash": "1"}))
    api.create(configmap("a", {"k": "2"}, namespace="team-b", labels={"dash": "1"}))
    api.create(configmap("a", {"k": "3"}, namespace="team-c", labels={"dash": "1"}))
    out = tmp_path / "all"
    every = sync(
        kubeconfig, "--once", "--selector", "dash=1", "--all-namespaces", "--dir", str(out)
    )
    assert every.wait(30) == 0, every.output()
    assert sorted(os.listdir(out)) == ["team-a_a", "team-b_a", "team-c_a"]
    some = tmp_path / "some"
    two = sync(
        kubeconfig,
        "--selector",
        "dash=1",
        "--namespace",
        "team-a",
        "--namespace",
        "team-c",
        "--dir",
        str(some),
        "--webhook",
        receiver.url,
    )
    try:
        receiver.wait_calls(1)
        api.update(
            configmap("a", {"k": "22"}, namespace="team-b", labels={"dash": "1"})
        )  # not watched
        api.update(configmap("a", {"k": "33"}, namespace="team-c", labels={"dash": "1"}))
        receiver.wait_calls(2)
        assert sorted(os.listdir(some)) == ["team-a_a", "team-c_a"]
        assert files(some / "team-c_a") == {"k": b"33"}
    finally:
        two.stop()
    assert len(receiver.calls) == 2


def test_not_ready_until_listed_and_reconnects_counted(
    api: KubeAPIServer, kubeconfig: Path, receiver: Receiver, tmp_path: Path
) -> None:
    api.create(configmap("app", {"k": "1"}))
    api.fail_next(3, 503, path_contains="/configmaps")  # about 1 s of retries (backoff)
    proc = sync(
        kubeconfig,
        "--configmap",
        "app",
        "--dir",
        str(tmp_path),
        "--webhook",
        receiver.url,
        "--listen",
        "127.0.0.1:0",
    )
    try:
        base = f"http://127.0.0.1:{proc.listening_port()}"
        wait_until(
            lambda: sum("/configmaps" in target for _, target in api.request_log) >= 2,
            what="two lists answered 503",
        )
        code, body = http_get(f"{base}/readyz")
        assert code == 503 and "not synced yet: configmaps namespace default" in body
        receiver.wait_calls(1, timeout=60)
        wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, what="ready")
        metrics = http_get(f"{base}/metrics")[1]
    finally:
        proc.stop()
    assert files(tmp_path) == {"k": b"1"}
    assert "kubereload_informer_reconnects_total" in metrics
    assert proc.output().count("API error: 503") >= 2


def test_once_fails_when_the_server_is_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    proc = sync(config, "--once", "--configmap", "app", "--dir", str(tmp_path / "out"))
    assert proc.wait(30) == 1
    assert "reading from http://127.0.0.1:9 failed" in proc.output()


def test_with_no_reload_action_it_writes_and_claims_no_reload(
    api: KubeAPIServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api.create(configmap("app", {"k": "one"}))
    target = tmp_path / "config"
    proc = kubereload(
        "sync", "--kubeconfig", str(kubeconfig), "--configmap", "app", "--dir", str(target),
        "--listen", "127.0.0.1:0",
    )  # fmt: skip
    try:
        metrics = f"http://127.0.0.1:{proc.listening_port()}/metrics"
        reloads = 'kubereload_reloads_total{result="success"} '
        # The first sync counts as one change; once it is counted, the next one counts alone.
        # (The pipeline logs a reload before it counts it.)
        wait_until(lambda: f"{reloads}1" in http_get(metrics)[1], what="the first sync done")
        assert (target / "k").read_bytes() == b"one"
        api.update(configmap("app", {"k": "two"}))
        wait_until(lambda: f"{reloads}2" in http_get(metrics)[1], what="the update done")
        assert (target / "k").read_bytes() == b"two"
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    assert "reloaded after change" not in proc.output()

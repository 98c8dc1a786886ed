"""``kubereload watch`` end to end: sources, env configuration, webhook, health, metrics, logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubereload.cli.main import main
from kubereload.cli.values import duration
from kubereload.volume import AtomicWriter
from kubereload.volume.layout import subpath_warning
from support.process import Proc, http_get, kubereload, wait_until
from support.webhook import Receiver


def metric_is(port: int, line: str) -> bool:
    return line in http_get(f"http://127.0.0.1:{port}/metrics")[1].splitlines()


def test_three_volumes_updated_together_reload_once(tmp_path: Path, receiver: Receiver) -> None:
    writers = [AtomicWriter(tmp_path / name) for name in ("a", "b", "c")]
    for w in writers:
        w.write({"k": "1"})
    args = [
        "watch",
        "--webhook",
        f"http://127.0.0.1:{receiver.port}/reload",
        "--coalesce",
        "5s",
        "--listen",
        "127.0.0.1:0",
    ]
    for w in writers:
        args += ["--dir", str(w.target_dir)]
    proc = kubereload(*args)
    try:
        port = proc.listening_port()
        proc.wait_watching(*(w.target_dir for w in writers))
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        for w in writers:
            w.write({"k": "2"})
        receiver.wait_calls(1)
        # the counter moves just after the webhook returns: wait for it
        wait_until(lambda: metric_is(port, 'kubereload_reloads_total{result="success"} 1'))
        metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        proc.stop()
    assert re.search("reloaded after change in .*a, .*b, .*c", proc.output())
    assert len(receiver.calls) == 1
    assert 'kubereload_reloads_total{result="success"} 1' in metrics
    for w in writers:
        assert f'kubereload_watch_events_total{{source="{w.target_dir}"}} 1' in metrics


def test_configured_from_the_environment_with_secrets_kept_out(
    tmp_path: Path, receiver: Receiver
) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"app.yaml": "a: 1"})
    other = tmp_path / "plain"
    other.mkdir()
    (other / "x.conf").write_text("x")
    token = tmp_path / "token"
    token.write_text("bearer-s3cret-value")
    url = f"http://admin:hunter2pass@127.0.0.1:{receiver.port}/-/reload?token=qs-tok3n-xyz"
    env = {
        "KUBERELOAD_DIR": f"{volume.target_dir}\n{other}",
        "KUBERELOAD_WEBHOOK": url,
        "KUBERELOAD_WEBHOOK_HEADER": "X-From: kubereload",
        "KUBERELOAD_WEBHOOK_BEARER_TOKEN_FILE": str(token),
        "KUBERELOAD_INITIAL_RELOAD": "true",
        "KUBERELOAD_LISTEN": "127.0.0.1:0",
        "KUBERELOAD_LOG_FORMAT": "json",
        "KUBERELOAD_LOG_LEVEL": "debug",
        "KUBERELOAD_WEBHOOK_RETRIES": "1",
        "KUBERELOAD_WEBHOOK_BACKOFF": "10ms",
    }
    proc = kubereload("watch", env=env)
    try:
        port = proc.listening_port()
        receiver.wait_calls(1)  # --initial-reload
        (other / "x.conf").write_text("y")
        receiver.wait_calls(2)
        # a failing call: its error must not show the credentials either
        receiver.close()
        volume.write({"app.yaml": "a: 2"})
        wait_until(lambda: metric_is(port, 'kubereload_reloads_total{result="failure"} 1'))
        metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    finally:
        proc.stop()
    assert re.search("reloaded after change in .*plain", proc.output())
    assert re.search("reload after change in .* failed", proc.output())
    call = receiver.calls[1]
    assert call.headers["Authorization"] == "Bearer bearer-s3cret-value"
    assert call.headers["X-From"] == "kubereload"
    assert call.path == "/-/reload?token=qs-tok3n-xyz"
    logs = proc.output()
    records = [json.loads(line) for line in logs.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert "webhook_errors_total" in metrics
    for secret in ("admin", "hunter2pass", "qs-tok3n-xyz", "bearer-s3cret-value"):
        assert secret not in logs
        assert secret not in metrics


def test_a_missing_source_is_not_ready_until_it_appears(tmp_path: Path, receiver: Receiver) -> None:
    later = tmp_path / "later"
    proc = kubereload(
        "watch",
        "--dir",
        str(later),
        "--listen",
        "127.0.0.1:0",
        "--webhook",
        f"http://127.0.0.1:{receiver.port}/",
    )
    try:
        port = proc.listening_port()
        status, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and f"not read yet: {later}" in body
        errors = f'kubereload_watcher_errors_total{{source="{later}"}} 1'
        wait_until(lambda: errors in http_get(f"http://127.0.0.1:{port}/metrics")[1])
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        proc.wait_watching(tmp_path)  # it waits for the folder to appear
        AtomicWriter(later).write({"k": "v"})
        receiver.wait_calls(1)
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--webhook", "http://127.0.0.1:1/"], {}, "nothing to watch"),
        (["--dir", "."], {}, "no reload action"),
        (["--dir", ".", "--pid", "1"], {}, "need --signal"),
        (["--dir", ".", "--jitter", "fast"], {}, "'fast' is not a duration"),
        (["--dir", "."], {"KUBERELOAD_WEBHOOK_TIMEOUT": "soon"}, "KUBERELOAD_WEBHOOK_TIMEOUT"),
        (["--dir", ".", "--webhook", "ftp://u:pw@x/"], {}, "must be http"),
    ],
)
def test_usage_errors_say_what_is_wrong(args: list[str], env: dict[str, str], message: str) -> None:
    proc = kubereload("watch", *args, env=env)
    assert proc.wait() == 2
    assert message in proc.output()
    assert "pw@" not in proc.output()


def test_help_shows_examples_and_the_env_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    text = capsys.readouterr().out
    assert "--process-name nginx" in text and "/-/reload" in text
    assert "Every flag also reads KUBERELOAD_<FLAG> (e.g. --dir -> KUBERELOAD_DIR)" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    run_help = capsys.readouterr().out
    assert "kubereload run [options] -- CMD" in run_help and "--restart" in run_help


@pytest.mark.parametrize("command", ["watch", "run"])
def test_only_the_subcommand_run_is_imported(command: str) -> None:
    """watch and run must not load the Kubernetes client that sync and controller need."""
    code = (
        f"import sys; from kubereload.cli.main import build_parser; build_parser([{command!r}]); "
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('lightkube', 'httpx2', 'kubereload.kube'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


HEAVY_FOR_WATCH = (
    "ssl",
    "_ssl",
    "hashlib",
    "_hashlib",
    "yaml",
    "http.server",
    "http.client",
    "email",
)


def test_watch_with_an_http_webhook_loads_no_tls_yaml_or_http_server(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The sidecar's memory: a reload on a kubelet volume, called over plain http, needs no
    OpenSSL (ssl, hashlib), no PyYAML and no HTTP server; each costs megabytes per pod."""
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"app.yaml": "n: 0"})
    argv = [sys.executable, "-X", "importtime", "-m", "kubereload", "watch"]
    proc = Proc([*argv, "--dir", str(volume.target_dir), "--webhook", receiver.url])
    try:
        proc.wait_watching(volume.target_dir)
        # The watch is in place before the first read, so a version written in between is
        # taken as the starting content: write new versions until one is reloaded.
        n = 0
        deadline = time.monotonic() + 60
        while not receiver.calls and time.monotonic() < deadline:
            n += 1
            volume.write({"app.yaml": f"n: {n}"})
            with receiver.cond:
                receiver.cond.wait_for(lambda: bool(receiver.calls), 1.0)
        receiver.wait_calls(1, timeout=0)
    finally:
        proc.stop()
    imported = {
        line.split("|")[-1].strip() for line in proc.lines if line.startswith("import time:")
    }
    assert "kubereload.actions.webhook" in imported  # the import log is complete
    loaded = sorted(
        m for m in imported if m.split(".")[0] in HEAVY_FOR_WATCH or m in HEAVY_FOR_WATCH
    )
    assert loaded == []


def test_durations() -> None:
    assert duration("500ms") == 0.5
    assert duration("2s") == 2.0
    assert duration("1m30s") == 90.0
    assert duration("1.5") == 1.5
    for bad in ("", "5 s", "1d", "-1s", "ms"):
        with pytest.raises(Exception, match="duration"):
            duration(bad)


def test_a_single_file_with_exec_and_initial_reload(tmp_path: Path) -> None:
    config = tmp_path / "app.ini"
    config.write_text("a=1\n")
    (tmp_path / "other.txt").write_text("not watched\n")
    marker = tmp_path / "reloads"
    proc = kubereload(
        "watch", "--file", str(config), "--initial-reload", "--exec-shell",
        "--exec", f'echo "$KUBERELOAD_CHANGED" >> {marker}', "--listen", "127.0.0.1:0",
    )  # fmt: skip
    try:
        port = proc.listening_port()
        wait_until(lambda: marker.exists() and marker.read_text() == f"{config}\n")
        proc.wait_watching(tmp_path)  # a file is watched through its folder
        (tmp_path / "other.txt").write_text("changed, but not the watched file\n")
        config.write_text("a=2\n")
        wait_until(lambda: marker.read_text() == f"{config}\n{config}\n")
        # the reload is counted (and logged) once its command has run: wait for that
        wait_until(lambda: metric_is(port, 'kubereload_reloads_total{result="success"} 2'))
    finally:
        proc.stop()
    assert marker.read_text() == f"{config}\n{config}\n"
    assert re.search(
        "reloaded after change in start-up|reloaded after change in .*app.ini", proc.output()
    )
    assert proc.output().count("reloaded after change") == 2


def test_a_missing_dir_is_said_once_and_not_ready_until_it_appears(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    proc = kubereload("watch", "--dir", str(missing), "--exec", "true", "--listen", "127.0.0.1:0")
    try:
        port = proc.listening_port()
        ready = f"http://127.0.0.1:{port}/readyz"
        status, body = http_get(ready)
        assert status == 503 and f"not read yet: {missing}" in body
        # Its detector found it missing (after the start-up read did): now let it appear.
        errors = f'kubereload_watcher_errors_total{{source="{missing}"}} 1'
        wait_until(lambda: errors in http_get(f"http://127.0.0.1:{port}/metrics")[1])
        missing.mkdir()
        (missing / "app.conf").write_text("a\n")
        wait_until(lambda: http_get(ready)[0] == 200, timeout=15, what="ready once it exists")
    finally:
        proc.stop()
    warnings = [line for line in proc.output().splitlines() if "WARNING" in line]
    assert len(warnings) == 1, proc.output()
    assert f"cannot read {missing} yet" in warnings[0] and "not ready" in warnings[0]
    assert "last good version" not in proc.output()


def test_a_subpath_mount_gets_the_librarys_warning_with_the_fix(tmp_path: Path) -> None:
    volume = AtomicWriter(tmp_path / "vol")
    volume.write({"app.yaml": "v: 1\n"})
    target = tmp_path / "pod" / "app.yaml"
    target.parent.mkdir()
    target.write_text("")
    source = volume.target_dir / os.readlink(volume.target_dir / "..data") / "app.yaml"
    mounted = subprocess.run(
        ["mount", "--bind", str(source), str(target)], check=False, capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("needs root and bind mounts to make a real subPath-style mount")
    try:
        proc = kubereload(
            "watch", "--file", str(target), "--exec", "true", "--listen", "127.0.0.1:0"
        )
        try:
            ready = f"http://127.0.0.1:{proc.listening_port()}/readyz"
            wait_until(lambda: http_get(ready)[0] == 200, timeout=15, what="ready")
        finally:
            proc.stop()
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert proc.output().count(subpath_warning(target)) == 1, proc.output()
    assert "Mount the whole volume (no subPath)" in subpath_warning(target)


@pytest.mark.parametrize(
    "names",
    [
        # configmap-reload's container args, in Go's spellings (one dash, =VALUE)
        ["-volume-dir={dir}", "--webhook-url", "{url}", "-webhook-method=POST",
         "--webhook-status-code=200", "-webhook-retries=2", "--web.listen-address",
         "127.0.0.1:0", "-web.telemetry-path=/probe/metrics"],
        # prometheus-config-reloader's
        ["--watched-dir={dir}", "--reload-url={url}", "--listen-address=127.0.0.1:0",
         "--metrics-path=/probe/metrics"],
    ],
)  # fmt: skip
def test_the_replaced_tools_flag_names_work_unchanged(
    names: list[str], tmp_path: Path, receiver: Receiver
) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"prometheus.yml": "a: 1"})
    args = [a.format(dir=volume.target_dir, url=receiver.url) for a in names]
    proc = kubereload("watch", *args)
    try:
        port = proc.listening_port()
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200, what="ready")
        volume.write({"prometheus.yml": "a: 2"})
        receiver.wait_calls(1)
        status, metrics = http_get(f"http://127.0.0.1:{port}/probe/metrics")
        assert status == 200 and "kubereload_watch_events_total" in metrics
        assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 404
    finally:
        proc.stop()
    assert receiver.calls[0].path == "/reload"


def test_json_logs_carry_event_source_version_duration_and_result(tmp_path: Path) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    first = volume.write({"app.conf": "ok 1"})
    marker = tmp_path / "reloaded"
    conf = volume.target_dir / "app.conf"
    proc = kubereload(
        "watch", "--dir", str(volume.target_dir), "--log-format", "json", "--listen", "127.0.0.1:0",
        "--validate", f"grep -q ok {conf}", "--exec", f"touch {marker}",
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{proc.listening_port()}"
        metrics = f"{base}/metrics"
        wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, what="the volume read")
        second = volume.write({"app.conf": "ok 2"})
        wait_until(marker.exists, what="the good change reloaded")
        third = volume.write({"app.conf": "bad"})
        invalid = 'kubereload_reloads_total{result="invalid"} 1'
        wait_until(lambda: invalid in http_get(metrics)[1], what="the bad change refused")
    finally:
        proc.stop()
    records = [json.loads(line) for line in proc.output().splitlines()]
    source = str(volume.target_dir)
    by_event: dict[str, list[dict[str, object]]] = {}
    for record in records:
        by_event.setdefault(str(record.get("event")), []).append(record)
    assert by_event["watch"][0]["source"] == source and by_event["watch"][0]["version"] == first
    assert [(r["source"], r["version"]) for r in by_event["change"]] == [
        (source, second),
        (source, third),
    ]
    reloads = by_event["reload"]
    assert [(r["source"], r["result"]) for r in reloads] == [
        (source, "success"),
        (source, "invalid"),
    ]
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in reloads)
    assert reloads[1]["level"] == "error" and "validation failed" in str(reloads[1]["message"])

"""configmap-reload's and prometheus-config-reloader's metrics, scraped from a real ``watch``
after a successful and a failed reload: the names, labels and meanings their dashboards and
alerts expect."""

from __future__ import annotations

from pathlib import Path

from kubereload.volume import AtomicWriter
from support.process import http_get, kubereload, wait_until
from support.webhook import Receiver


def samples(text: str) -> dict[str, float]:
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_their_metrics_after_a_good_and_a_failed_reload(tmp_path: Path, receiver: Receiver) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"prometheus.yml": "v: 0"})
    proc = kubereload(
        "watch", "--volume-dir", str(volume.target_dir), "--webhook-url", receiver.url,
        "--webhook-retries", "0", "--listen", "127.0.0.1:0",
    )  # fmt: skip
    try:
        metrics_url = f"http://127.0.0.1:{proc.listening_port()}/metrics"

        def reloads(result: str) -> float:
            got = samples(http_get(metrics_url)[1])
            return got.get(f'kubereload_reloads_total{{result="{result}"}}', 0)

        proc.wait_watching(volume.target_dir)
        volume.write({"prometheus.yml": "v: 1"})
        wait_until(lambda: reloads("success") >= 1, timeout=30, what="a successful reload")
        receiver.status = 500
        volume.write({"prometheus.yml": "v: failing"})
        wait_until(lambda: reloads("failure") >= 1, timeout=30, what="a failed reload")
        got = samples(http_get(metrics_url)[1])
    finally:
        proc.stop()
    hook = f'webhook="{receiver.url}"'
    good = got['kubereload_reloads_total{result="success"}']
    assert got['kubereload_reloads_total{result="failure"}'] == 1
    # configmap-reload: per webhook attempt
    assert got[f'configmap_reload_requests_total{{{hook},status_code="200"}}'] == good
    assert got[f'configmap_reload_requests_total{{{hook},status_code="500"}}'] == 1
    assert got[f'configmap_reload_request_errors_total{{{hook},reason="client_response"}}'] == 1
    assert got[f"configmap_reload_success_reloads_total{{{hook}}}"] == good
    assert got[f"configmap_reload_last_reload_error{{{hook}}}"] == 1
    assert 0 < got[f"configmap_reload_last_request_duration_seconds{{{hook}}}"] < 5
    assert got["configmap_reload_watcher_errors_total"] == 0
    # prometheus-config-reloader: per reload
    assert got["reloader_reloads_total"] == good + 1
    assert got["reloader_reloads_failed_total"] == 1
    assert got["reloader_last_reload_successful"] == 0
    assert got["reloader_last_reload_success_timestamp_seconds"] > 1.7e9
    assert got["reloader_config_apply_operations_total"] == good + 1
    assert got["reloader_config_apply_operations_failed_total"] == 0
    assert got["reloader_watches"] == 1
    changes = got[f'kubereload_watch_events_total{{source="{volume.target_dir}"}}']
    assert got["reloader_watch_events_total"] == changes >= good + 1
    assert got["reloader_watch_errors_total"] == 0
    # the controller's stakater Reloader names are not exported by the sidecar
    assert not any(name.startswith(("reloader_reload_executed", "reloader_action")) for name in got)

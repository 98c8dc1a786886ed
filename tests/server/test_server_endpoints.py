"""The metrics registry's exposition format, and the HTTP endpoints over real sockets."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from kubereload.server import HealthRegistry, Registry, StatusServer, parse_listen


def test_exposition_format() -> None:
    registry = Registry()
    reloads = registry.counter("reloads_total", "Reloads by result.", ["result"])
    reloads.inc(result="success")
    reloads.inc(2, result='fail"ed\n')
    latency = registry.histogram(
        "webhook_duration_seconds", "Latency.", ["target"], buckets=(0.01, 0.1)
    )
    latency.observe(0.005, target="http://h/x")
    latency.observe(0.05, target="http://h/x")
    registry.gauge("last_reload_success", "1 or 0.").set(1)
    text = registry.render()
    assert text.endswith("\n")
    assert "# TYPE kubereload_reloads_total counter" in text
    assert 'kubereload_reloads_total{result="success"} 1' in text
    assert 'kubereload_reloads_total{result="fail\\"ed\\n"} 2' in text
    assert 'kubereload_webhook_duration_seconds_bucket{target="http://h/x",le="0.01"} 1' in text
    assert 'kubereload_webhook_duration_seconds_bucket{target="http://h/x",le="0.1"} 2' in text
    assert 'kubereload_webhook_duration_seconds_bucket{target="http://h/x",le="+Inf"} 2' in text
    assert 'kubereload_webhook_duration_seconds_count{target="http://h/x"} 2' in text
    assert "kubereload_last_reload_success 1" in text
    with pytest.raises(ValueError, match="labels"):
        reloads.inc(reason="x")
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("reloads_total", "again")


@pytest.fixture
def served() -> Iterator[tuple[str, Registry, HealthRegistry]]:
    registry, health = Registry(), HealthRegistry()
    server = StatusServer(("127.0.0.1", 0), registry, health)
    server.start()
    yield f"http://127.0.0.1:{server.port}", registry, health
    server.close()


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_health_and_metrics_endpoints(served: tuple[str, Registry, HealthRegistry]) -> None:
    base, registry, health = served
    registry.counter("watch_events_total", "Events.").inc()
    status, ctype, body = _get(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert "kubereload_watch_events_total 1" in body

    alive = {"ok": True}
    health.add_probe("live", "worker", lambda: None if alive["ok"] else "worker stopped")
    health.set("ready", "sources", "not read yet: /etc/app")
    assert _get(base + "/healthz")[0] == 200
    status, _, body = _get(base + "/readyz")
    assert status == 503 and "[-] sources: not read yet: /etc/app" in body
    health.set("ready", "sources", None)
    assert _get(base + "/readyz")[0] == 200
    alive["ok"] = False
    status, _, body = _get(base + "/healthz")
    assert status == 503 and "worker stopped" in body
    assert _get(base + "/nope")[0] == 404


def test_parse_listen() -> None:
    assert parse_listen(":9090") == ("0.0.0.0", 9090)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("9090x")


def test_a_declared_check_is_not_ready_until_its_probe_is_registered() -> None:
    """A command serves probes before its informers exist: it declares them first, so /readyz
    never says ok in that window, and the real probe takes over once registered."""
    health = HealthRegistry()
    health.set("ready", "informers", "not started")
    assert not health.healthy("ready")
    unsynced: list[str | None] = ["first list pending"]
    health.add_probe("ready", "informers", lambda: unsynced[0])
    assert [(r.name, r.reason) for r in health.check("ready")] == [
        ("informers", "first list pending")
    ]
    unsynced[0] = None
    assert health.healthy("ready")

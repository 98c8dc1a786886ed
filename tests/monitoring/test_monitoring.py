"""deploy/monitoring: the alerts fire when they should (promtool), the monitors select what the
manifests run, and every metric a rule or dashboard panel names is one kubereload really exports.

The exported names come from scraping real `kubereload watch`, `sync` and `controller` processes
(the last two against the test API server), so a renamed or removed metric fails here instead of
leaving a dashboard blank or an alert silent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeapi.server import KubeAPIServer
from support.objects import configmap
from support.process import Proc, http_get, kubereload, wait_until

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)
METRIC = re.compile(r"\b((?:kubereload|process)_[a-z_]+)\b")


def _rule_groups() -> dict[str, Any]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    spec: dict[str, Any] = rule["spec"]
    return spec


def _rule_exprs() -> list[str]:
    return [r["expr"] for group in _rule_groups()["groups"] for r in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


@needs_promtool
def test_rules_check_and_unit_tests_pass(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rule_groups()))
    shutil.copy(MONITORING / "rules_test.yaml", tmp_path)
    for argv in (["check", "rules", "rules.yaml"], ["test", "rules", "rules_test.yaml"]):
        done = subprocess.run(
            [str(PROMTOOL), *argv], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    alerts = {r["alert"] for group in _rule_groups()["groups"] for r in group["rules"]}
    tests = yaml.safe_load((MONITORING / "rules_test.yaml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert alerts == fired


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_service_monitor_selects_the_controller_metrics_port() -> None:
    (monitor,) = _docs(MONITORING / "servicemonitor.yaml")
    (service,) = _docs(ROOT / "deploy/controller/base/service.yaml")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def test_pod_monitor_selects_the_sidecar_examples() -> None:
    (monitor,) = _docs(MONITORING / "podmonitor.yaml")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    port = monitor["spec"]["podMetricsEndpoints"][0]["port"]
    for example in ("deploy/sidecar/nginx.yaml", "deploy/sidecar/prometheus.yaml"):
        pods = [d for d in _docs(ROOT / example) if d["kind"] in ("Deployment", "StatefulSet")]
        assert pods, example
        for workload in pods:
            template = workload["spec"]["template"]
            assert wanted.items() <= template["metadata"]["labels"].items(), example
            names = {
                p.get("name") for c in template["spec"]["containers"] for p in c.get("ports", [])
            }
            assert port in names, example


def _get(port: int, path: str) -> str | None:
    try:
        status, body = http_get(f"http://127.0.0.1:{port}{path}")
    except OSError:  # not listening yet
        return None
    return body if status == 200 else None


def _scrape(port: int) -> dict[str, str]:
    """Metric name -> type, from the # TYPE lines of /metrics once the process is ready (its
    sources loaded, its informers synced: every metric it has is registered by then)."""
    wait_until(lambda: _get(port, "/readyz") is not None, 30, f"/readyz on port {port}")
    text = _get(port, "/metrics") or ""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


@pytest.fixture
def exported(tmp_path: Path, api: KubeAPIServer, kubeconfig: Path) -> Iterator[dict[str, str]]:
    """The metric names real watch, sync and controller processes serve on /metrics."""
    api.create(configmap("app", {"k": "v"}))
    (tmp_path / "watched").mkdir()
    procs: list[Proc] = [
        kubereload(
            "watch", "--dir", str(tmp_path / "watched"), "--exec", "true",
            "--listen", "127.0.0.1:0",
        ),
        kubereload(
            "sync", "--kubeconfig", str(kubeconfig),
            "--configmap", "app", "--dir", str(tmp_path / "synced"),
            "--listen", "127.0.0.1:0",
        ),
        kubereload("controller", "--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0"),
    ]  # fmt: skip
    try:
        names: dict[str, str] = {}
        for proc in procs:
            names |= _scrape(proc.listening_port())
        yield names
    finally:
        for proc in procs:
            proc.stop()


def test_rules_and_dashboard_name_only_exported_metrics(exported: dict[str, str]) -> None:
    histograms = {n for n, kind in exported.items() if kind == "histogram"}
    named = {m for expr in _rule_exprs() + _dashboard_exprs() for m in METRIC.findall(expr)}
    assert named  # the extraction found the queries

    def exported_as(name: str) -> bool:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return name in exported or (base != name and base in histograms)

    assert sorted(n for n in named if not exported_as(n)) == []
    # the standard process metrics are served by every command
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= exported.keys()

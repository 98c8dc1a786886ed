"""`kubereload explain`, --dry-run, --reload-strategy env-vars, Events, metrics, and no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from kubeapi.server import KubeAPIServer
from support.controller import baseline_hash, events, rollouts, template_hash, update_data
from support.fixtures import StartController as Start
from support.objects import cm_volume, configmap, cronjob, secret, workload
from support.process import wait_until

AUTO = {"reloader.stakater.com/auto": "true"}


def explain(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubereload", "explain", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )


def test_explain_names_dependencies_and_verdict(api: KubeAPIServer, kubeconfig: Path) -> None:
    api.create(configmap("conf", {"app.yaml": "a: 1"}))
    api.create(secret("db", {"password": "s3cr3t-value"}))
    api.create(
        workload(
            "web",
            {"configmap.reloader.stakater.com/auto": "true"},
            volumes=cm_volume("conf"),
            container={
                "env": [
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
                ],
                "volumeMounts": [
                    {"name": "v", "mountPath": "/etc/app.yaml", "subPath": "app.yaml"}
                ],
            },
        )
    )
    result = explain(kubeconfig, "deploy/web", "-n", "default")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Deployment default/web\n")
    assert "ConfigMap conf [present] - referenced, auto annotation" in out
    assert 'through: volume "v"' in out
    assert "Secret db - not selected by any reload annotation" in out
    assert "mounted with subPath" in out
    assert "now: no rollout; the hash would be recorded" in out
    assert "s3cr3t-value" not in out + result.stderr

    missing = explain(kubeconfig, "statefulset/nope")
    assert missing.returncode == 1 and "StatefulSet default/nope not found" in missing.stderr
    bad = explain(kubeconfig, "pod/x")
    assert bad.returncode == 2 and "KIND/NAME" in bad.stderr


def test_explain_a_configmap_names_the_workloads_it_rolls(
    api: KubeAPIServer, kubeconfig: Path
) -> None:
    api.create(configmap("conf", {"app.yaml": "a: 1"}))
    api.create(workload("web", AUTO, volumes=cm_volume("conf")))
    api.create(workload("plain", {}, volumes=cm_volume("conf")))
    api.create(workload("other", AUTO))
    api.create(cronjob("report", AUTO, volumes=cm_volume("conf")))
    result = explain(kubeconfig, "configmap/conf")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("ConfigMap default/conf\n")
    assert 'Deployment web - referenced, auto annotation; through: volume "v"' in out
    assert 'CronJob report - referenced, auto annotation; through: volume "v"' in out
    assert "used, but not rolled by it:\n    Deployment plain - not selected" in out
    assert "other" not in out
    cron = explain(kubeconfig, "cronjob/report")
    assert cron.returncode == 0, cron.stderr
    assert cron.stdout.startswith("CronJob default/report\n")
    assert "ConfigMap conf [present] - referenced, auto annotation" in cron.stdout
    assert explain(kubeconfig, "secret/none").returncode == 1


def test_dry_run_writes_nothing(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("a", {"k": "1"}))
    api.create(workload("web", AUTO, volumes=cm_volume("a"), container={}))
    ctl = controllers("--dry-run", "--debounce", "0s")
    wait_until(lambda: ctl.adopted(1), what="adoption")
    # a dry run writes nothing: what it would do is only in its words
    update_data(api, "ConfigMap", "a", {"k": "2"})
    ctl.wait_logged("dry-run: would roll Deployment default/web because ConfigMap a changed")
    assert baseline_hash(api, "web") is None and template_hash(api, "web") is None
    assert not any(method == "PATCH" for method, _ in api.request_log)
    assert api.list("v1", "Event", "default") == []


def test_env_vars_strategy_sets_reloader_variables(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("app-config", {"k": "1"}))
    api.create(
        workload(
            "web",
            AUTO,
            volumes=cm_volume("app-config"),
            container={"env": [{"name": "KEEP", "value": "me"}]},
        )
    )
    ctl = controllers("--reload-strategy", "env-vars", "--debounce", "0s")
    wait_until(lambda: ctl.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "app-config", {"k": "2"})
    wait_until(lambda: rollouts(api, "web") == 1)
    obj = api.get("apps/v1", "Deployment", "default", "web")
    assert obj is not None
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert names == ["KEEP", "STAKATER_APP_CONFIG_CONFIGMAP"]  # merged by name, not replaced
    assert len(env[1]["value"]) == 32


def test_events_metrics_and_no_secret_values_anywhere(
    api: KubeAPIServer, controllers: Start
) -> None:
    value = "Tr0ub4dor-never-log-me"
    api.create(secret("creds", {"password": value}))
    api.create(
        workload(
            "web",
            {"secret.reloader.stakater.com/reload": "creds"},
            volumes=[{"name": "s", "secret": {"secretName": "creds"}}],
            container={"volumeMounts": [{"name": "s", "mountPath": "/pw", "subPath": "password"}]},
        )
    )
    ctl = controllers("--debounce", "0s", "--log-level", "debug")
    port = ctl.port
    wait_until(lambda: ctl.adopted(1), what="adoption")
    update_data(api, "Secret", "creds", {"password": value + "-2"})
    wait_until(lambda: rollouts(api, "web") == 1)
    wait_until(lambda: events(api, "web", "SubPathMount"))
    reloaded = events(api, "web")[0]
    assert reloaded["type"] == "Normal"
    assert reloaded["message"] == "rolled because Secret creds changed"
    warning = events(api, "web", "SubPathMount")[0]
    assert (
        warning["type"] == "Warning"
        and "Secret creds is mounted with subPath" in warning["message"]
    )

    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
        assert response.status == 200

    # a rollout is counted once its work is done, its Events posted
    def counted() -> str:
        text = ctl.metrics()
        return (
            text
            if 'kubereload_rollouts_total{kind="Deployment",result="success"} 1' in text
            else ""
        )

    metrics = wait_until(counted, what="the rollout counted")
    assert "kubereload_change_to_patch_seconds_count 1" in metrics
    assert "kubereload_adoptions_total 1" in metrics
    # Reloader's names too, for the dashboards and alerts of a migrated cluster
    assert 'reloader_reload_executed_total{success="true"} 1' in metrics
    assert 'reloader_action_total{workload_kind="Deployment",result="success"} 1' in metrics
    assert "kubereload_informer_reconnects_total" in metrics
    assert "kubereload_reloads_total" not in metrics  # only the controller's own metrics
    ctl.stop()
    assert f"serving /healthz, /readyz, /metrics on 127.0.0.1:{port}" in ctl.output()
    everything = ctl.output() + metrics + str(api.list("v1", "Event", "default"))
    assert value not in everything


def test_json_logs_name_the_workload_rolled_and_its_config_hash(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("conf", {"k": "1"}))
    api.create(workload("web", AUTO, volumes=cm_volume("conf")))
    ctl = controllers("--debounce", "0s", "--log-format", "json")
    wait_until(lambda: ctl.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "conf", {"k": "2"})
    wait_until(lambda: rollouts(api, "web") == 1)
    assert ctl.stop() == 0
    records = [json.loads(line) for line in ctl.lines]
    rolled = [r for r in records if r.get("event") == "rollout"]
    assert len(rolled) == 1, ctl.output()
    assert rolled[0]["result"] == "success"
    assert "web" in rolled[0]["object"] and "Deployment" in rolled[0]["object"]
    assert rolled[0]["version"] == template_hash(api, "web")

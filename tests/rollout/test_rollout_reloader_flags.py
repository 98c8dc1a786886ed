"""Reloader's flags and defaults, as a user migrating from stakater/Reloader relies on them."""

from __future__ import annotations

from typing import Any

from kubeapi.server import KubeAPIServer
from support.controller import Controller, has_rolled, rollouts, update_data
from support.fixtures import StartController as Start
from support.objects import cm_volume, configmap, cronjob, secret, workload
from support.process import wait_until

AUTO = {"reloader.stakater.com/auto": "true"}


def test_rate_limit_zero_means_no_limit(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(workload("web", AUTO, volumes=cm_volume("app")))
    proc = controllers("--rate-limit", "0")
    wait_until(lambda: proc.adopted(1), what="adoption")
    for n in range(1, 5):
        update_data(api, "ConfigMap", "app", {"k": str(n)})
        wait_until(has_rolled(api, "web", n), what=f"rollout {n}")


def both_roll(api: KubeAPIServer, proc: Controller, rolled: str, kept: str) -> None:
    """After a change to ConfigMap app: ``rolled`` rolls, ``kept`` does not (it is judged in
    the same pass: once ``rolled`` has rolled, a rollout of ``kept`` would be logged too)."""
    wait_until(lambda: rollouts(api, rolled) >= 1, what=f"{rolled} rolled")
    # the line is logged just after the write the API shows, and read from the pipe later still
    proc.wait_logged(rf"rolled Deployment default/{rolled} because")
    assert f"rolled Deployment default/{kept}" not in proc.output()
    assert rollouts(api, kept) == 0


def test_auto_false_opts_out_even_under_auto_reload_all(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(workload("web", {}, volumes=cm_volume("app")))
    api.create(
        workload("legacy", {"reloader.stakater.com/auto": "false"}, volumes=cm_volume("app"))
    )
    proc = controllers("--auto-reload-all", "--debounce", "0s")
    proc.wait_logged(r"compared 1 workloads: 0 to roll, 1 new")  # legacy is not a candidate
    wait_until(lambda: proc.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "app", {"k": "1"})
    both_roll(api, proc, "web", "legacy")


def test_an_invalid_selector_is_one_error_at_start(controllers: Start) -> None:
    proc = controllers("--namespace-selector", "team:a,bad key:x")
    assert proc.wait(30) == 2
    assert "--namespace-selector: 'bad key:x' is not a requirement" in proc.output()


def test_deleting_and_recreating_rolls_nothing_by_default(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(configmap("other", {"k": "0"}))
    api.create(workload("web", AUTO, volumes=cm_volume("app")))
    api.create(workload("probe", AUTO, volumes=cm_volume("other")))
    proc = controllers("--debounce", "0s")
    wait_until(lambda: proc.adopted(2), what="adoption")
    api.delete("v1", "ConfigMap", "default", "app")
    api.create(configmap("app", {"k": "0"}))  # re-created, same content
    api.delete("v1", "ConfigMap", "default", "app")
    api.create(configmap("app", {"k": "changed while re-created"}))
    # a later change to another object shows the controller has seen all of the above
    update_data(api, "ConfigMap", "other", {"k": "1"})
    both_roll(api, proc, "probe", "web")
    update_data(api, "ConfigMap", "app", {"k": "2"})  # an update still rolls
    wait_until(lambda: rollouts(api, "web") == 1, what="rollout on update")


def test_reload_on_delete_and_on_create(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(workload("web", AUTO, volumes=cm_volume("app")))
    api.create(workload("late", AUTO, volumes=cm_volume("later")))  # not there yet
    proc = controllers("--debounce", "0s", "--reload-on-delete", "--reload-on-create=true")
    wait_until(lambda: proc.adopted(2), what="adoption")
    api.delete("v1", "ConfigMap", "default", "app")
    wait_until(lambda: rollouts(api, "web") == 1, what="rollout on delete")
    api.create(configmap("later", {"k": "0"}))
    wait_until(lambda: rollouts(api, "late") == 1, what="rollout on create")


def test_resources_workload_types_and_namespaces_to_ignore(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "quiet"}})
    api.create(configmap("app", {"k": "0"}))
    api.create(secret("creds", {"p": "0"}))
    quiet = configmap("app", {"k": "0"})
    quiet["metadata"]["namespace"] = "quiet"
    api.create(quiet)
    quiet_web = workload("web", AUTO, volumes=cm_volume("app"))
    quiet_web["metadata"]["namespace"] = "quiet"
    api.create(quiet_web)
    secret_volume = [{"name": "s", "secret": {"secretName": "creds"}}]
    api.create(workload("web", AUTO, volumes=cm_volume("app")))
    api.create(workload("vault", AUTO, volumes=secret_volume))
    api.create(workload("db", AUTO, kind="StatefulSet", volumes=cm_volume("app")))
    proc = controllers(
        "--debounce",
        "0s",
        "--resources-to-ignore=secrets",
        "--ignored-workload-types=statefulsets,cronjobs",
        "--namespaces-to-ignore=quiet,elsewhere",
    )
    wait_until(lambda: proc.adopted(1), what="adoption")
    assert "statefulsets" not in proc.output()
    assert "secrets all namespaces" not in proc.output()
    update_data(api, "Secret", "creds", {"p": "1"})
    for ns in ("quiet", "default"):
        cm = api.get("v1", "ConfigMap", ns, "app")
        assert cm is not None
        cm["data"] = {"k": "1"}
        api.update(cm)
    wait_until(has_rolled(api, "web"), what="web rolled")
    assert rollouts(api, "vault") == 0
    assert proc.stop() == 0
    assert "rolled Deployment default/web because ConfigMap app changed" in proc.output()
    assert "StatefulSet default/db" not in proc.output() and "quiet/web" not in proc.output()


def test_annotation_names_follow_reloaders_flags(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(workload("web", {"example.com/auto": "true"}, volumes=cm_volume("app")))
    api.create(workload("old", AUTO, volumes=cm_volume("app")))  # the renamed default
    proc = controllers("--debounce", "0s", "--auto-annotation", "example.com/auto")
    wait_until(lambda: proc.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "app", {"k": "1"})
    both_roll(api, proc, "web", "old")


def cron_template_hash(api: KubeAPIServer, name: str) -> str | None:
    obj = api.get("batch/v1", "CronJob", "default", name)
    assert obj is not None
    template = obj["spec"]["jobTemplate"]["spec"]["template"]
    return ((template.get("metadata") or {}).get("annotations") or {}).get(
        "kubereload.io/config-hash"
    )


def jobs(api: KubeAPIServer) -> list[dict[str, Any]]:
    return api.list("batch/v1", "Job", "default")


def test_a_cronjob_gets_the_new_config_for_its_next_run(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(cronjob("report", AUTO, volumes=cm_volume("app")))
    proc = controllers("--debounce", "0s")
    wait_until(lambda: proc.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "app", {"k": "1"})
    wait_until(lambda: cron_template_hash(api, "report"), what="job template patched")
    proc.wait_logged("rolled CronJob default/report because ConfigMap app changed")
    obj = api.get("batch/v1", "CronJob", "default", "report")
    assert obj is not None and obj["spec"]["schedule"] == "0 3 * * *"  # the rest untouched
    assert jobs(api) == []  # nothing runs out of schedule


def test_cronjob_job_now_starts_a_job_like_reloader(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("app", {"k": "0"}))
    api.create(cronjob("report", AUTO, volumes=cm_volume("app")))
    proc = controllers("--debounce", "0s", "--cronjob-job-now")
    wait_until(lambda: proc.adopted(1), what="adoption")
    update_data(api, "ConfigMap", "app", {"k": "1"})
    started = wait_until(lambda: jobs(api), what="a Job")
    assert len(started) == 1
    job = started[0]
    assert job["metadata"]["name"].startswith("report-reload-")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("CronJob", "report")
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubereload.io/config-hash"] == cron_template_hash(api, "report")

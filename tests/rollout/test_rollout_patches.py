"""Patch bodies: what each strategy writes, in the format each kind accepts."""

import json
from datetime import UTC, datetime

import pytest

from kubereload.kube.data import DataKind
from kubereload.rollout.kinds import KINDS
from kubereload.rollout.patches import (
    MERGE,
    STRATEGIC,
    Trigger,
    adopt_patch,
    env_var_name,
    rollout_patch,
)

NOW = datetime(2026, 11, 22, 4, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app-config", "STAKATER_APP_CONFIG_CONFIGMAP"),
        ("my.app.conf", "STAKATER_MY_APP_CONF_CONFIGMAP"),
        ("a--b", "STAKATER_A_B_CONFIGMAP"),
        ("-lead", "STAKATER_LEAD_CONFIGMAP"),
        ("trail-", "STAKATER_TRAIL__CONFIGMAP"),
        ("v2", "STAKATER_V2_CONFIGMAP"),
    ],
)
def test_env_var_names_follow_reloader(name: str, expected: str) -> None:
    assert env_var_name(name, DataKind.CONFIGMAP) == expected


def test_env_var_name_for_secret() -> None:
    assert env_var_name("db-creds", DataKind.SECRET) == "STAKATER_DB_CREDS_SECRET"


def test_adopt_touches_metadata_only() -> None:
    patch = adopt_patch("abc")
    assert patch.content_type == MERGE
    assert patch.body == {"metadata": {"annotations": {"kubereload.io/config-hash": "abc"}}}


def test_default_strategy_patches_template_annotations() -> None:
    trig = Trigger(DataKind.CONFIGMAP, "ns", "app", "d1g3st")
    patch = rollout_patch(KINDS["Deployment"], "h1", triggers=[trig], containers=["app"], now=NOW)
    assert patch.content_type == STRATEGIC
    annotations = patch.body["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubereload.io/config-hash"] == "h1"
    assert json.loads(annotations["reloader.stakater.com/last-reloaded-from"]) == {
        "type": "CONFIGMAP",
        "name": "app",
        "namespace": "ns",
        "hash": "d1g3st",
        "containerRefs": ["app"],
        "observedAt": int(NOW.timestamp()),
    }
    assert "containers" not in json.dumps(patch.body["spec"]["template"].get("spec", {}))
    assert json.loads(patch.encode()) == patch.body


def test_env_vars_strategy_merges_into_every_container_by_name() -> None:
    triggers = [
        Trigger(DataKind.SECRET, "ns", "db", "s1"),
        Trigger(DataKind.CONFIGMAP, "ns", "app", "c1"),
    ]
    patch = rollout_patch(
        KINDS["StatefulSet"], "h2", strategy="env-vars", triggers=triggers, containers=["a", "b"]
    )
    assert patch.content_type == STRATEGIC
    template = patch.body["spec"]["template"]
    assert template["metadata"]["annotations"] == {"kubereload.io/config-hash": "h2"}
    env = [
        {"name": "STAKATER_APP_CONFIGMAP", "value": "c1"},
        {"name": "STAKATER_DB_SECRET", "value": "s1"},
    ]
    assert template["spec"]["containers"] == [{"name": "a", "env": env}, {"name": "b", "env": env}]


def test_argo_rollout_restarts_through_restart_at() -> None:
    patch = rollout_patch(KINDS["Rollout"], "h3", now=NOW)
    assert patch.content_type == MERGE
    assert patch.body == {
        "metadata": {"annotations": {"kubereload.io/config-hash": "h3"}},
        "spec": {"restartAt": "2026-11-22T04:30:00Z"},
    }

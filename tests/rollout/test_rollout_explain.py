"""explain tells which objects a workload depends on, through what, and what a change would do."""

from kubereload.kube.data import DataKind
from kubereload.rollout.annotations import Reading
from kubereload.rollout.decide import Outcome
from kubereload.rollout.digests import DigestStore
from kubereload.rollout.explain import explain, sub_path_warnings
from kubereload.rollout.kinds import KINDS
from kubereload.rollout.workloads import from_object

WEB = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "annotations": {
            "configmap.reloader.stakater.com/auto": "true",
            "secret.reloader.stakater.com/reload": "tls",
            "kubereload.io/pause-period": "2m",
        },
    },
    "spec": {
        "template": {
            "spec": {
                "volumes": [
                    {"name": "conf", "configMap": {"name": "web-config"}},
                    {"name": "certs", "secret": {"secretName": "tls"}},
                ],
                "containers": [
                    {
                        "name": "app",
                        "env": [
                            {
                                "name": "DB_PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                            }
                        ],
                        "volumeMounts": [
                            {"name": "conf", "mountPath": "/etc/web.yaml", "subPath": "web.yaml"}
                        ],
                    }
                ],
            }
        }
    },
}


def test_explain_names_dependencies_routes_and_verdict() -> None:
    store = DigestStore()
    store.put(
        DataKind.CONFIGMAP,
        {"metadata": {"name": "web-config", "namespace": "shop"}, "data": {"web.yaml": "a: 1"}},
    )
    text, decision = explain(from_object(KINDS["Deployment"], WEB), store)
    assert decision.outcome is Outcome.ADOPT
    assert text.startswith("Deployment shop/web\n")
    assert "auto (ConfigMaps); Secrets tls; pause period 120s" in text
    assert "ConfigMap web-config [present] - referenced, auto annotation" in text
    assert 'through: volume "conf"' in text
    assert "Secret tls [absent] - named in a reload annotation" in text
    assert "Secret db - not selected by any reload annotation" in text
    assert "ConfigMap web-config is mounted with subPath" in text
    assert "now: no rollout; the hash would be recorded" in text


def test_sub_path_warning_once_per_object() -> None:
    warnings = sub_path_warnings(from_object(KINDS["Deployment"], WEB))
    assert len(warnings) == 1 and "web-config" in warnings[0]


def test_explain_agrees_that_auto_false_declines_auto_reload_all() -> None:
    declined = {
        "metadata": {
            "name": "legacy",
            "namespace": "shop",
            "annotations": {"reloader.stakater.com/auto": "false"},
        },
        "spec": WEB["spec"],
    }
    store = DigestStore()
    everyone = Reading(auto_all=True)
    text, decision = explain(from_object(KINDS["Deployment"], declined, reading=everyone), store)
    assert decision.outcome is Outcome.NONE
    assert 'auto declined (auto: "false"; --auto-reload-all does not apply)' in text
    assert "now: no rollout (no reload annotation)" in text

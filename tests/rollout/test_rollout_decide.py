"""Roll exactly when the desired hash differs from the one the workload carries."""

from dataclasses import replace
from typing import Any

from kubereload.kube.data import DataKind
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.decide import Outcome, decide, dependencies
from kubereload.rollout.digests import DigestStore
from kubereload.rollout.kinds import KINDS
from kubereload.rollout.workloads import Workload, from_object


def workload(
    annotations: dict[str, str],
    *,
    volumes: list[dict[str, Any]] | None = None,
    env_from: list[dict[str, Any]] | None = None,
    template_hash: str | None = None,
    baseline: str | None = None,
) -> Workload:
    meta_ann = dict(annotations)
    if baseline:
        meta_ann["kubereload.io/config-hash"] = baseline
    tmpl_ann = {"kubereload.io/config-hash": template_hash} if template_hash else {}
    return from_object(
        KINDS["Deployment"],
        {
            "metadata": {"name": "web", "namespace": "ns", "annotations": meta_ann},
            "spec": {
                "template": {
                    "metadata": {"annotations": tmpl_ann},
                    "spec": {
                        "volumes": volumes or [],
                        "containers": [{"name": "app", "envFrom": env_from or []}],
                    },
                }
            },
        },
    )


def put_cm(store: DigestStore, name: str, data: dict[str, str], **ann: str) -> None:
    store.put(
        DataKind.CONFIGMAP,
        {"metadata": {"name": name, "namespace": "ns", "annotations": ann}, "data": data},
    )


VOL_A = [{"name": "a", "configMap": {"name": "a"}}]
AUTO = {"reloader.stakater.com/auto": "true"}


def adopted(w: Workload, store: DigestStore) -> Workload:
    """The workload as it looks once its hash is recorded."""
    d = decide(w, store)
    assert d.desired is not None
    return replace(w, template_hash=d.desired)


def test_first_sight_adopts_then_only_changes_roll() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"})
    w = workload(AUTO, volumes=VOL_A)
    first = decide(w, store)
    assert first.outcome is Outcome.ADOPT
    w = adopted(w, store)
    assert decide(w, store).outcome is Outcome.NONE  # restart / relist: nothing to do
    put_cm(store, "a", {"k": "2"})
    second = decide(w, store)
    assert second.outcome is Outcome.ROLL and second.desired != first.desired
    put_cm(store, "a", {"k": "1"})  # changed back before the rollout: nothing to do
    assert decide(w, store).outcome is Outcome.NONE


def test_baseline_on_metadata_counts_as_current() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"})
    desired = decide(workload(AUTO, volumes=VOL_A), store).desired
    assert desired is not None
    assert decide(workload(AUTO, volumes=VOL_A, baseline=desired), store).outcome is Outcome.NONE
    put_cm(store, "a", {"k": "2"})
    assert decide(workload(AUTO, volumes=VOL_A, baseline=desired), store).outcome is Outcome.ROLL


def test_no_annotation_no_rollout() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"})
    d = decide(workload({}, volumes=VOL_A), store)
    assert d.outcome is Outcome.NONE and d.reason == "no reload annotation"


def test_ignored_objects_do_not_count() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"}, **{"reloader.stakater.com/ignore": "true"})
    deps, ignored = dependencies(workload(AUTO, volumes=VOL_A), store)
    assert deps == [] and [i.name for i in ignored] == ["a"]
    assert decide(workload(AUTO, volumes=VOL_A), store).outcome is Outcome.NONE


def test_search_needs_match_on_the_object() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"}, **{"reloader.stakater.com/match": "true"})
    put_cm(store, "b", {"k": "1"})
    vols = [*VOL_A, {"name": "b", "configMap": {"name": "b"}}]
    deps, ignored = dependencies(
        workload({"reloader.stakater.com/search": "true"}, volumes=vols), store
    )
    assert [d.name for d in deps] == ["a"]
    assert [i.name for i in ignored] == ["b"]


def test_per_kind_auto_and_named_lists() -> None:
    store = DigestStore()
    vols = [*VOL_A, {"name": "s", "secret": {"secretName": "s"}}]
    deps, ignored = dependencies(
        workload({"configmap.reloader.stakater.com/auto": "true"}, volumes=vols), store
    )
    assert [(d.kind, d.name) for d in deps] == [("ConfigMap", "a")]
    assert [(i.kind, i.name) for i in ignored] == [("Secret", "s")]
    named = workload({"secret.reloader.stakater.com/reload": "s,other"}, volumes=vols)
    deps, _ = dependencies(named, store)
    assert {(d.kind, d.name) for d in deps} == {("Secret", "s"), ("Secret", "other")}


def test_creating_a_missing_object_changes_the_hash() -> None:
    store = DigestStore()
    w = workload({"configmap.reloader.stakater.com/reload": "later"})
    w = adopted(w, store)
    assert decide(w, store).outcome is Outcome.NONE
    put_cm(store, "later", {"k": "v"})
    assert decide(w, store).outcome is Outcome.ROLL


def test_keys_filter_ignores_other_keys() -> None:
    store = DigestStore()
    ref = ObjectRef(DataKind.CONFIGMAP, "ns", "a")
    store.keep_keys(ref)
    put_cm(store, "a", {"watched": "1", "other": "1"})
    w = adopted(workload({**AUTO, "kubereload.io/keys": "watched"}, volumes=VOL_A), store)
    put_cm(store, "a", {"watched": "1", "other": "2"})
    assert decide(w, store).outcome is Outcome.NONE
    put_cm(store, "a", {"watched": "2", "other": "2"})
    assert decide(w, store).outcome is Outcome.ROLL
    put_cm(store, "a", {"other": "2"})  # the key removed: a change too
    assert decide(w, store).outcome is Outcome.ROLL


def test_hash_covers_env_from_and_is_stable_across_reference_order() -> None:
    store = DigestStore()
    put_cm(store, "a", {"k": "1"})
    put_cm(store, "e", {"k": "1"})
    one = workload(AUTO, volumes=VOL_A, env_from=[{"configMapRef": {"name": "e"}}])
    two = workload(
        AUTO, env_from=[{"configMapRef": {"name": "e"}}, {"configMapRef": {"name": "a"}}]
    )
    before = decide(one, store).desired
    assert before == decide(two, store).desired
    put_cm(store, "e", {"k": "2"})
    assert decide(one, store).desired != before

"""The index maps each ConfigMap/Secret to the workloads that may use it, kept current by events."""

from typing import Any

from kubereload.kube.data import DataKind
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.kinds import KINDS
from kubereload.rollout.workloads import (
    WorkloadIndex,
    from_object,
    keyed_refs,
)


def deployment(
    name: str,
    annotations: dict[str, str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    ns: str = "default",
    template_annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": {
            "template": {
                "metadata": {"annotations": template_annotations or {}},
                "spec": {"containers": [{"name": "app"}], "volumes": volumes or []},
            }
        },
    }


def cm_volume(name: str) -> dict[str, Any]:
    return {"name": f"v-{name}", "configMap": {"name": name}}


AUTO = {"reloader.stakater.com/auto": "true"}


def test_reduce_keeps_references_and_hashes() -> None:
    w = from_object(
        KINDS["Deployment"],
        deployment(
            "web",
            {**AUTO, "kubereload.io/config-hash": "base"},
            [cm_volume("a")],
            template_annotations={"kubereload.io/config-hash": "tmpl"},
        ),
    )
    assert w.key == ("Deployment", "default", "web")
    assert w.template_hash == "tmpl" and w.baseline_hash == "base" and w.current_hash == "tmpl"
    assert w.containers == ("app",)
    assert [r.name for r in w.refs] == ["a"]


def test_index_follows_add_update_delete() -> None:
    index = WorkloadIndex()
    index.upsert(from_object(KINDS["Deployment"], deployment("web", AUTO, [cm_volume("a")])))
    index.upsert(
        from_object(
            KINDS["StatefulSet"],
            deployment("db", {"configmap.reloader.stakater.com/reload": "a,b"}),
        )
    )
    a, b = (
        ObjectRef(DataKind.CONFIGMAP, "default", "a"),
        ObjectRef(DataKind.CONFIGMAP, "default", "b"),
    )
    assert index.users(a) == {("Deployment", "default", "web"), ("StatefulSet", "default", "db")}
    assert index.users(b) == {("StatefulSet", "default", "db")}
    # update: web now mounts b instead of a
    old = index.upsert(from_object(KINDS["Deployment"], deployment("web", AUTO, [cm_volume("b")])))
    assert old is not None
    assert index.users(a) == {("StatefulSet", "default", "db")}
    assert index.users(b) == {("Deployment", "default", "web"), ("StatefulSet", "default", "db")}
    index.remove(ObjectRef("StatefulSet", "default", "db"))
    assert index.users(a) == set()
    assert index.users(b) == {("Deployment", "default", "web")}
    assert len(index) == 1


def test_workloads_without_reload_annotations_are_not_indexed() -> None:
    index = WorkloadIndex()
    index.upsert(from_object(KINDS["Deployment"], deployment("plain", {}, [cm_volume("a")])))
    assert index.users(ObjectRef(DataKind.CONFIGMAP, "default", "a")) == set()
    assert len(index) == 1


def test_namespaces_do_not_mix() -> None:
    index = WorkloadIndex()
    index.upsert(
        from_object(KINDS["Deployment"], deployment("web", AUTO, [cm_volume("a")], ns="one"))
    )
    assert index.users(ObjectRef(DataKind.CONFIGMAP, "two", "a")) == set()
    assert index.users(ObjectRef(DataKind.CONFIGMAP, "one", "a")) == {("Deployment", "one", "web")}


def test_keyed_refs_only_for_workloads_with_keys() -> None:
    plain = from_object(KINDS["Deployment"], deployment("w", AUTO, [cm_volume("a")]))
    keyed = from_object(
        KINDS["Deployment"], deployment("w", {**AUTO, "kubereload.io/keys": "k"}, [cm_volume("a")])
    )
    assert keyed_refs(plain) == set() and keyed_refs(None) == set()
    assert keyed_refs(keyed) == {ObjectRef(DataKind.CONFIGMAP, "default", "a")}


def test_rollout_progress_read_from_status() -> None:
    def dep(status: dict[str, Any], generation: int = 2, replicas: int = 2) -> dict[str, Any]:
        return {
            "metadata": {"generation": generation},
            "spec": {"replicas": replicas},
            "status": status,
        }

    done = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert not KINDS["Deployment"].in_progress(dep(done))
    assert KINDS["Deployment"].in_progress(dep({**done, "observedGeneration": 1}))
    assert KINDS["Deployment"].in_progress(dep({**done, "updatedReplicas": 1}))
    assert KINDS["Deployment"].in_progress(dep({**done, "replicas": 3}))  # old pods left
    assert KINDS["Deployment"].in_progress(dep({**done, "availableReplicas": 1}))
    sts = {
        "observedGeneration": 2,
        "readyReplicas": 2,
        "currentRevision": "a",
        "updateRevision": "a",
    }
    assert not KINDS["StatefulSet"].in_progress(dep(sts))
    assert KINDS["StatefulSet"].in_progress(dep({**sts, "updateRevision": "b"}))
    ds = {
        "observedGeneration": 2,
        "desiredNumberScheduled": 3,
        "updatedNumberScheduled": 3,
        "numberAvailable": 3,
    }
    assert not KINDS["DaemonSet"].in_progress(dep(ds))
    assert KINDS["DaemonSet"].in_progress(dep({**ds, "numberAvailable": 2}))
    assert not KINDS["Rollout"].in_progress(dep({}))
    assert from_object(KINDS["Deployment"], deployment("w")).rolling  # no status yet: not done

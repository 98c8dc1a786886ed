"""Requests and answers as the real API server gives them: lists, writes, patches, errors."""

from __future__ import annotations

import base64
import threading
from typing import Any

from kubeapi.client import CM, Api
from kubeapi.server import KubeAPIServer
from support.objects import configmap

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str = "web") -> dict[str, Any]:
    container = {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def assert_status(body: dict[str, Any], code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)
    assert body["message"]


def test_discovery_lists_the_served_types(api: KubeAPIServer) -> None:
    client = Api(api.url)
    assert client.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in client.get("/apis").json()["groups"]}
    assert {"apps", "batch", "coordination.k8s.io"} <= groups
    apps = client.get("/apis/apps/v1").json()
    deploy = next(r for r in apps["resources"] if r["name"] == "deployments")
    assert deploy["kind"] == "Deployment" and deploy["namespaced"] and "watch" in deploy["verbs"]
    core = {r["name"] for r in client.get("/api/v1").json()["resources"]}
    assert {"configmaps", "secrets", "namespaces", "events", "pods"} <= core
    assert client.get("/version").json()["major"] == "1"
    assert_status(client.get("/apis/nothing.example/v1/things").json(), 404, "NotFound")


def test_list_pages_are_one_consistent_snapshot(api: KubeAPIServer) -> None:
    for i in range(25):
        api.create(configmap(f"cm-{i:02}", {"k": "1"}))
    client = Api(api.url)
    first = client.get(f"{CM}?limit=10").json()
    assert first["kind"] == "ConfigMapList" and len(first["items"]) == 10
    assert first["metadata"]["remainingItemCount"] == 15
    api.create(configmap("cm-99", {"k": "1"}))  # after the snapshot: not in the next pages
    api.delete("v1", "ConfigMap", "default", "cm-20")  # likewise still listed
    names = [i["metadata"]["name"] for i in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = client.get(f"{CM}?limit=10&continue={token}").json()
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"cm-{i:02}" for i in range(25)]
    fresh = client.get(CM).json()
    assert len(fresh["items"]) == 25 and "continue" not in fresh["metadata"]


def test_label_and_field_selectors_on_lists(api: KubeAPIServer) -> None:
    api.create(configmap("a", {"k": "1"}, labels={"app": "web", "tier": "front"}))
    api.create(configmap("b", {"k": "1"}, labels={"app": "web"}))
    api.create(configmap("c", {"k": "1"}, labels={"app": "db"}))
    api.create(configmap("a", {"k": "1"}, namespace="other", labels={"app": "web"}))
    client = Api(api.url)

    def names(query: str, path: str = CM) -> list[str]:
        reply = client.get(f"{path}?{query}")
        assert reply.status == 200, reply.body
        return [
            f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in reply.json()["items"]
        ]

    assert names("labelSelector=app%3Dweb") == ["default/a", "default/b"]
    assert names("labelSelector=app%3D%3Dweb,!tier") == ["default/b"]
    assert names("labelSelector=app!%3Dweb") == ["default/c"]
    assert names("labelSelector=app%20in%20(db,x)") == ["default/c"]
    assert names("labelSelector=app%20notin%20(web)") == ["default/c"]
    assert names("labelSelector=tier") == ["default/a"]
    assert names("fieldSelector=metadata.name%3Da", "/api/v1/configmaps") == [
        "default/a",
        "other/a",
    ]
    assert names("fieldSelector=metadata.namespace%3Dother", "/api/v1/configmaps") == ["other/a"]
    assert_status(client.get(f"{CM}?fieldSelector=spec.foo%3D1").json(), 400, "BadRequest")
    assert_status(client.get(f"{CM}?labelSelector=%3D%3D%3D").json(), 400, "BadRequest")


def test_create_conflicts_and_names(api: KubeAPIServer) -> None:
    client = Api(api.url)
    created = client.request("POST", CM, {**configmap("a", {"k": "1"}), "metadata": {"name": "a"}})
    assert created.status == 201
    meta = created.json()["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"]
    again = client.request("POST", CM, configmap("a", {"k": "1"})).json()
    assert_status(again, 409, "AlreadyExists")
    assert again["details"] == {"name": "a", "kind": "configmaps"}
    generated = client.request(
        "POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "g-"}}
    ).json()
    assert (
        generated["metadata"]["name"].startswith("g-") and len(generated["metadata"]["name"]) == 7
    )
    assert_status(
        client.request("POST", CM, configmap("Bad_Name", {"k": "1"})).json(), 422, "Invalid"
    )
    assert_status(
        client.request("POST", CM, configmap("x", {"k": "1"}, namespace="other")).json(),
        400,
        "BadRequest",
    )
    missing = client.request(
        "POST", "/api/v1/namespaces/nope/configmaps", configmap("x", {"k": "1"}, namespace="nope")
    )
    assert_status(missing.json(), 404, "NotFound")
    wrong_kind = {**configmap("x", {"k": "1"}), "kind": "Secret"}
    assert_status(client.request("POST", CM, wrong_kind).json(), 400, "BadRequest")


def test_update_needs_the_current_resource_version(api: KubeAPIServer) -> None:
    client = Api(api.url)
    obj = api.create(configmap("a", {"k": "1"}))
    obj["data"] = {"k": "2"}
    updated = client.request("PUT", f"{CM}/a", obj)
    assert updated.status == 200
    stale = client.request("PUT", f"{CM}/a", obj).json()  # still the old resourceVersion
    assert_status(stale, 409, "Conflict")
    assert "the object has been modified" in stale["message"]
    fresh = updated.json()
    unchanged = client.request("PUT", f"{CM}/a", fresh).json()
    assert unchanged["metadata"]["resourceVersion"] == fresh["metadata"]["resourceVersion"]
    del fresh["metadata"]["resourceVersion"]  # unconditional update
    fresh["data"] = {"k": "3"}
    assert client.request("PUT", f"{CM}/a", fresh).json()["data"] == {"k": "3"}
    assert_status(
        client.request("PUT", f"{CM}/zzz", {**configmap("zzz", {"k": "1"})}).json(), 404, "NotFound"
    )


def test_generation_follows_spec_and_status_is_a_subresource(api: KubeAPIServer) -> None:
    client = Api(api.url)
    created = client.request("POST", DEPLOYS, deployment()).json()
    assert created["metadata"]["generation"] == 1 and created["spec"]["replicas"] == 1
    path = f"{DEPLOYS}/web"
    labelled = client.request(
        "PATCH", path, {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json"
    ).json()
    assert labelled["metadata"]["generation"] == 1
    scaled = client.request(
        "PATCH", path, {"spec": {"replicas": 3}}, "application/merge-patch+json"
    ).json()
    assert scaled["metadata"]["generation"] == 2
    status = {"status": {"observedGeneration": 2, "replicas": 3}}
    ignored = client.request("PATCH", path, status, "application/merge-patch+json").json()
    assert ignored["status"] == {}  # the main resource does not write status
    written = client.request(
        "PATCH", f"{path}/status", status, "application/merge-patch+json"
    ).json()
    assert written["status"] == status["status"]
    assert written["metadata"]["generation"] == 2


def test_patch_formats(api: KubeAPIServer) -> None:
    client = Api(api.url)
    client.request("POST", DEPLOYS, deployment())
    path = f"{DEPLOYS}/web"
    strategic = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                    "containers": [
                        {"name": "side", "image": "busybox"},
                        {"name": "app", "env": [{"name": "B", "value": "2"}]},
                    ],
                }
            }
        }
    }
    merged = client.request("PATCH", path, strategic, "application/strategic-merge-patch+json")
    containers = merged.json()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "app"]
    assert containers[1]["image"] == "nginx"
    assert containers[1]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]

    ops = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    patched = client.request("PATCH", path, ops, "application/json-patch+json").json()
    assert patched["metadata"]["labels"] == {"a": "b"}
    failing = [{"op": "test", "path": "/metadata/labels/a", "value": "other"}]
    assert_status(
        client.request("PATCH", path, failing, "application/json-patch+json").json(), 422, "Invalid"
    )
    unknown = client.request("PATCH", path, {}, "application/x-unknown").json()
    assert_status(unknown, 415, "UnsupportedMediaType")
    stale = {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 5}}
    assert_status(
        client.request("PATCH", path, stale, "application/merge-patch+json").json(), 409, "Conflict"
    )


def test_server_side_apply_creates_then_merges(api: KubeAPIServer) -> None:
    client = Api(api.url)
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    ctype = "application/apply-patch+yaml"
    created = client.request("PATCH", f"{CM}/ssa?fieldManager=test", body, ctype)
    assert created.status == 201 and created.json()["data"] == {"a": "1"}
    body2 = body.replace(b"a: '1'", b"b: '2'")
    updated = client.request("PATCH", f"{CM}/ssa?fieldManager=test", body2, ctype).json()
    assert updated["data"] == {"a": "1", "b": "2"}
    assert client.request("PATCH", f"{CM}/ssa", body, ctype).status == 422


def test_secret_string_data_is_merged_into_data(api: KubeAPIServer) -> None:
    client = Api(api.url)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": base64.b64encode(b"one").decode()},
        "stringData": {"b": "two", "a": "wins"},
    }
    created = client.request("POST", "/api/v1/namespaces/default/secrets", secret).json()
    assert "stringData" not in created and created["type"] == "Opaque"
    assert {k: base64.b64decode(v) for k, v in created["data"].items()} == {
        "a": b"wins",
        "b": b"two",
    }
    bad = {**secret, "metadata": {"name": "t"}, "data": {"a": "not base64!"}}
    assert_status(
        client.request("POST", "/api/v1/namespaces/default/secrets", bad).json(), 400, "BadRequest"
    )


def test_immutable_configmaps_refuse_data_changes(api: KubeAPIServer) -> None:
    client = Api(api.url)
    client.request("POST", CM, {**configmap("frozen", {"k": "1"}), "immutable": True})
    change = {"data": {"k": "2"}}
    refused = client.request("PATCH", f"{CM}/frozen", change, "application/merge-patch+json")
    assert_status(refused.json(), 422, "Invalid")


def test_delete_answers_status_and_checks_preconditions(api: KubeAPIServer) -> None:
    client = Api(api.url)
    uid = api.create(configmap("a", {"k": "1"}))["metadata"]["uid"]
    wrong = {"preconditions": {"uid": "not-the-uid"}}
    assert_status(client.request("DELETE", f"{CM}/a", wrong).json(), 409, "Conflict")
    done = client.request("DELETE", f"{CM}/a").json()
    assert done["kind"] == "Status" and done["status"] == "Success"
    assert done["details"] == {"name": "a", "kind": "configmaps", "uid": uid}
    assert_status(client.request("DELETE", f"{CM}/a").json(), 404, "NotFound")
    assert api.get("v1", "ConfigMap", "default", "a") is None


def test_deleting_a_namespace_deletes_its_objects(api: KubeAPIServer) -> None:
    api.create(configmap("a", {"k": "1"}, namespace="doomed"))
    reply = Api(api.url).request("DELETE", "/api/v1/namespaces/doomed")
    assert reply.status == 200 and reply.json()["kind"] == "Namespace"
    assert api.list("v1", "ConfigMap", "doomed") == []


def test_stop_ends_open_connections_and_threads() -> None:
    before = set(threading.enumerate())
    server = KubeAPIServer().start()
    client = Api(server.url)
    watch = client.watch(f"{CM}?watch=1")
    assert client.get(CM).status == 200
    server.stop()
    assert set(threading.enumerate()) <= before
    watch.close()


def test_list_items_carry_no_type_meta_but_watch_events_do(api: KubeAPIServer) -> None:
    api.create(configmap("a", {"k": "1"}))
    item = Api(api.url).get(CM).json()["items"][0]
    assert "kind" not in item and "apiVersion" not in item  # as the real server's lists
    assert item["metadata"]["name"] == "a" and item["data"] == {"k": "1"}
    with Api(api.url).watch(f"{CM}?watch=1") as watch:
        event = watch.next(5)
        assert event is not None and event["object"]["kind"] == "ConfigMap"

"""Watch semantics over HTTP: resume, initial events, bookmarks, timeouts, 410, selectors."""

from __future__ import annotations

from typing import Any

from kubeapi.client import CM, Api
from kubeapi.server import KubeAPIServer
from support.objects import configmap


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_resume_replays_later_events_in_order_then_streams(api: KubeAPIServer) -> None:
    first = api.create(configmap("a", {"k": "1"}))
    api.patch_merge("v1", "ConfigMap", "default", "a", {"data": {"k": "2"}})
    api.create(configmap("b", {"k": "1"}))
    api.create(configmap("other-ns", {"k": "1"}, namespace="elsewhere"))
    client = Api(api.url)
    with client.watch(f"{CM}?watch=1&resourceVersion={rv(first)}") as watch:
        assert watch.status == 200
        assert watch.headers["Transfer-Encoding"] == "chunked"
        assert watch.headers["Content-Type"] == "application/json"
        modified, added = watch.next(5), watch.next(5)
        assert modified is not None and added is not None
        assert (modified["type"], modified["object"]["data"]) == ("MODIFIED", {"k": "2"})
        assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "b")
        api.delete("v1", "ConfigMap", "default", "b")
        deleted = watch.next(5)
        assert deleted is not None and deleted["type"] == "DELETED"
        assert deleted["object"]["metadata"]["name"] == "b"
        assert rv(first) < rv(modified["object"]) < rv(added["object"]) < rv(deleted["object"])
        assert rv(deleted["object"]) == int(api.resource_version)


def test_watch_without_version_starts_with_the_current_objects(api: KubeAPIServer) -> None:
    api.create(configmap("a", {"k": "1"}))
    api.create(configmap("b", {"k": "1"}))
    with Api(api.url).watch(f"{CM}?watch=true") as watch:
        first, second = watch.next(5), watch.next(5)
        assert first is not None and second is not None
        assert [e["type"] for e in (first, second)] == ["ADDED", "ADDED"]
        assert [e["object"]["metadata"]["name"] for e in (first, second)] == ["a", "b"]
        api.create(configmap("c", {"k": "1"}))
        third = watch.next(5)
        assert third is not None and third["object"]["metadata"]["name"] == "c"


def test_send_initial_events_ends_with_an_annotated_bookmark(api: KubeAPIServer) -> None:
    api.create(configmap("a", {"k": "1"}))
    query = (
        "watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&resourceVersion="
    )
    with Api(api.url).watch(f"{CM}?{query}") as watch:
        added, marker = watch.next(5), watch.next(5)
        assert added is not None and added["type"] == "ADDED"
        assert marker is not None and marker["type"] == "BOOKMARK"
        annotations = marker["object"]["metadata"]["annotations"]
        assert annotations == {"k8s.io/initial-events-end": "true"}
    refused = Api(api.url).get(f"{CM}?watch=1&sendInitialEvents=true")
    assert refused.status == 422


def test_bookmarks_carry_the_newest_resource_version() -> None:
    with KubeAPIServer(bookmark_interval=0.05) as server:
        server.create(
            configmap("first", {"k": "1"})
        )  # a kind gets bookmarks only once it has had an event
        start = server.resource_version
        client = Api(server.url)
        with client.watch(f"{CM}?watch=1&allowWatchBookmarks=true&resourceVersion={start}") as w:
            bookmark = w.until("BOOKMARK")
            assert bookmark["object"] == {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": start, "creationTimestamp": None},
            }
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
            written = server.create(secret)  # another type: no event here, but a newer bookmark
            while True:
                later = w.until("BOOKMARK")
                if later["object"]["metadata"]["resourceVersion"] == str(rv(written)):
                    break


def test_timeout_ends_the_stream_cleanly_and_no_bookmark_unless_asked() -> None:
    with KubeAPIServer(bookmark_interval=0.05) as server:
        path = f"{CM}?watch=1&timeoutSeconds=1&resourceVersion={server.resource_version}"
        watch = Api(server.url).watch(path)
        assert watch.next(5) is None  # the clean end of a chunked stream, no bookmark before
        watch.close()


def test_too_old_versions_get_410_after_compaction(api: KubeAPIServer) -> None:
    client = Api(api.url)
    for i in range(3):
        api.create(configmap(f"c{i}", {"k": "1"}))
    old = client.get(f"{CM}?limit=2").json()
    old_rv, token = old["metadata"]["resourceVersion"], old["metadata"]["continue"]
    api.create(configmap("newer", {"k": "1"}))
    api.expire_history()

    with client.watch(f"{CM}?watch=1&resourceVersion={old_rv}") as watch:
        assert watch.status == 200  # as the real server: an ERROR event, not an HTTP error
        error = watch.next(5)
        assert error is not None and error["type"] == "ERROR"
        status = error["object"]
        assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", 410)
        assert status["reason"] == "Expired"
        assert watch.next(5) is None

    exact = client.get(f"{CM}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
    assert exact.status == 410 and exact.json()["reason"] == "Expired"
    paged = client.get(f"{CM}?limit=2&continue={token}")
    assert paged.status == 410 and paged.json()["code"] == 410
    rest = client.get(f"{CM}?limit=2&continue={paged.json()['metadata']['continue']}").json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c2", "newer"]  # inconsistent

    now = api.resource_version
    with client.watch(f"{CM}?watch=1&resourceVersion={now}") as watch:
        api.create(configmap("after", {"k": "1"}))
        event = watch.next(5)
        assert event is not None and event["object"]["metadata"]["name"] == "after"


def test_history_keeps_only_the_configured_number_of_events() -> None:
    with KubeAPIServer(history=5) as server:
        start = rv(server.create(configmap("a", {"k": "1"})))
        versions = [
            rv(server.patch_merge("v1", "ConfigMap", "default", "a", {"data": {"k": str(i)}}))
            for i in range(10)
        ]
        client = Api(server.url)
        with client.watch(f"{CM}?watch=1&resourceVersion={start}") as watch:
            error = watch.next(5)
            assert error is not None and error["object"]["code"] == 410
        with client.watch(f"{CM}?watch=1&resourceVersion={versions[-4]}") as watch:
            replayed = [watch.next(5) for _ in range(3)]
            assert [rv(e["object"]) for e in replayed if e] == versions[-3:]


def test_exact_list_shows_the_state_at_that_version(api: KubeAPIServer) -> None:
    a = api.create(configmap("a", {"k": "1"}))
    api.create(configmap("b", {"k": "1"}))
    api.delete("v1", "ConfigMap", "default", "a")
    api.patch_merge("v1", "ConfigMap", "default", "b", {"data": {"k": "changed"}})
    listed = Api(api.url).get(f"{CM}?resourceVersion={rv(a)}&resourceVersionMatch=Exact")
    body = listed.json()
    assert body["metadata"]["resourceVersion"] == str(rv(a))
    assert [i["metadata"]["name"] for i in body["items"]] == ["a"]
    assert body["items"][0]["data"] == {"k": "1"}


def test_selectors_turn_transitions_into_added_and_deleted(api: KubeAPIServer) -> None:
    client = Api(api.url)
    now = api.resource_version
    path = f"{CM}?watch=1&labelSelector=app%3Dweb&resourceVersion={now}"
    with client.watch(path) as watch:
        api.create(configmap("x", {"k": "1"}, labels={"app": "web"}))
        api.create(configmap("y", {"k": "1"}, labels={"app": "db"}))  # never matches: no event
        added = watch.next(5)
        assert added is not None and added["type"] == "ADDED"
        left = api.patch_merge(
            "v1", "ConfigMap", "default", "x", {"metadata": {"labels": {"app": "db"}}}
        )
        gone = watch.next(5)
        assert gone is not None and gone["type"] == "DELETED"
        # the real cacher sends the last matching state, at the new resourceVersion
        assert gone["object"]["metadata"]["labels"] == {"app": "web"}
        assert gone["object"]["metadata"]["resourceVersion"] == left["metadata"]["resourceVersion"]
        api.patch_merge("v1", "ConfigMap", "default", "x", {"metadata": {"labels": {"app": "web"}}})
        back = watch.next(5)
        assert back is not None and back["type"] == "ADDED"
        api.patch_merge("v1", "ConfigMap", "default", "x", {"data": {"k": "2"}})
        changed = watch.next(5)
        assert changed is not None and changed["type"] == "MODIFIED"
        api.delete("v1", "ConfigMap", "default", "x")
        deleted = watch.next(5)
        assert deleted is not None and deleted["type"] == "DELETED"
        assert deleted["object"]["metadata"]["name"] == "x"


def test_field_selector_and_all_namespaces_watch(api: KubeAPIServer) -> None:
    client = Api(api.url)
    now = api.resource_version
    by_name = f"{CM}?watch=1&fieldSelector=metadata.name%3Dwanted&resourceVersion={now}"
    everywhere = f"/api/v1/configmaps?watch=1&resourceVersion={now}"
    with client.watch(by_name) as named, client.watch(everywhere) as every:
        api.create(configmap("other", {"k": "1"}))
        api.create(configmap("wanted", {"k": "1"}, namespace="elsewhere"))
        api.create(configmap("wanted", {"k": "1"}))
        event = named.next(5)
        assert event is not None
        assert event["object"]["metadata"]["namespace"] == "default"
        assert event["object"]["metadata"]["name"] == "wanted"
        seen = [every.next(5) for _ in range(3)]
        assert [(e["object"]["metadata"]["namespace"]) for e in seen if e] == [
            "default",
            "elsewhere",
            "default",
        ]


def test_watch_of_one_object_by_name(api: KubeAPIServer) -> None:
    client = Api(api.url)
    now = api.resource_version
    paths = (
        f"{CM}/b?watch=1&resourceVersion={now}",
        f"/api/v1/watch/namespaces/default/configmaps/b?resourceVersion={now}",
    )
    for path in paths:
        with client.watch(path) as watch:
            api.create(configmap("a", {"k": "1"}))
            api.create(configmap("b", {"k": "1"}))
            event = watch.next(5)
            assert event is not None and event["object"]["metadata"]["name"] == "b"
        api.delete("v1", "ConfigMap", "default", "a")
        api.delete("v1", "ConfigMap", "default", "b")


def test_a_kind_never_written_gets_no_bookmark_not_even_before_the_timeout() -> None:
    """As a real v1.24 server: a watch on a quiet kind carries nothing for its whole life."""
    with KubeAPIServer(bookmark_interval=0.05) as server:
        path = "/api/v1/namespaces/default/secrets"
        query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion={rv0(server)}"
        with Api(server.url).watch(path + query) as watch:
            assert watch.next(10) is None  # the clean end at the timeout, nothing before


def test_a_bookmark_comes_two_seconds_before_the_timeout() -> None:
    with KubeAPIServer(bookmark_interval=3600) as server:
        server.create(configmap("a", {"k": "1"}))
        query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion={rv0(server)}"
        with Api(server.url).watch(CM + query) as watch:
            bookmark = watch.next(10)
            assert bookmark is not None and bookmark["type"] == "BOOKMARK"
            assert watch.next(10) is None


def rv0(server: KubeAPIServer) -> str:
    return server.resource_version

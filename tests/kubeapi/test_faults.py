"""Fault injection: dropped and stalled watches, injected errors, auth, the request log."""

from __future__ import annotations

import pytest

from kubeapi.client import CM, Api, StreamCut
from kubeapi.cluster import LocalCluster, RealCluster
from kubeapi.server import KubeAPIServer
from support.objects import configmap


def test_drop_cuts_open_watches_mid_stream(api: KubeAPIServer) -> None:
    client = Api(api.url)
    now = api.resource_version
    with client.watch(f"{CM}?watch=1&resourceVersion={now}") as watch:
        api.create(configmap("a", {"k": "1"}))
        assert watch.next(5) is not None
        api.drop_watches()
        with pytest.raises(StreamCut):
            watch.next(5)
    with client.watch(f"{CM}?watch=1&resourceVersion={now}") as again:  # resuming works
        event = again.next(5)
        assert event is not None and event["object"]["metadata"]["name"] == "a"


def test_stall_silences_open_watches_until_released() -> None:
    with KubeAPIServer(bookmark_interval=0.05) as server:
        client = Api(server.url)
        server.create(
            configmap("first", {"k": "1"})
        )  # a kind gets bookmarks only once it has had an event
        now = server.resource_version
        path = f"{CM}?watch=1&allowWatchBookmarks=true&resourceVersion={now}"
        with client.watch(path) as stalled:
            stalled.until("BOOKMARK")
            server.stall_watches()
            server.create(configmap("a", {"k": "1"}))
            # several bookmark intervals of silence: neither the event nor a bookmark
            with pytest.raises(TimeoutError):
                stalled.next(0.5)
            with client.watch(path) as fresh:  # a watch opened after the stall is served
                assert fresh.until("ADDED")["object"]["metadata"]["name"] == "a"
            server.unstall_watches()
            assert stalled.until("ADDED", timeout=5)["object"]["metadata"]["name"] == "a"


def test_fail_next_answers_real_status_errors(api: KubeAPIServer) -> None:
    client = Api(api.url)
    api.fail_next(2, 500, path_contains="/configmaps")
    assert client.get("/api/v1").status == 200  # does not match: not counted
    for _ in range(2):
        reply = client.get(CM)
        assert reply.status == 500
        status = reply.json()
        assert (status["kind"], status["apiVersion"], status["status"]) == (
            "Status",
            "v1",
            "Failure",
        )
        assert (status["code"], status["reason"]) == (500, "InternalError")
    assert client.get(CM).status == 200


def test_fail_next_429_sends_retry_after(api: KubeAPIServer) -> None:
    client = Api(api.url)
    api.fail_next(1, 429, retry_after=3)
    reply = client.get(f"{CM}?watch=1")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "3"
    status = reply.json()
    assert status["reason"] == "TooManyRequests"
    assert status["details"]["retryAfterSeconds"] == 3
    assert client.get(CM).status == 200


def test_token_is_required(api: KubeAPIServer) -> None:
    for token in (None, "wrong"):
        reply = Api(api.url, token=token).get(CM)
        assert reply.status == 401
        assert reply.json()["reason"] == "Unauthorized"
    assert Api(api.url, token=None).get("/version").status == 200
    with KubeAPIServer(token=None) as open_server:
        assert Api(open_server.url, token=None).get(CM).status == 200


def test_request_log_records_method_and_query(api: KubeAPIServer) -> None:
    client = Api(api.url)
    client.get(f"{CM}?labelSelector=a%3Db")
    client.request("POST", CM, configmap("x", {"k": "1"}))
    assert api.request_log[-2:] == [
        ("GET", f"{CM}?labelSelector=a%3Db"),
        ("POST", CM),
    ]


@pytest.mark.e2e
def test_kubectl_retries_after_429_and_reports_500(
    cluster: LocalCluster | RealCluster, faults: KubeAPIServer
) -> None:
    ns = cluster.namespace
    cluster.create(configmap("a", {"k": "1"}, namespace=ns))
    path = f"/namespaces/{ns}/configmaps/a"
    faults.fail_next(1, 429, path_contains=path, retry_after=1)
    assert cluster.kubectl.json("get", "configmap", "a", "-n", ns)["metadata"]["name"] == "a"
    faults.fail_next(1, 500, path_contains=path)
    failed = cluster.kubectl.run("get", "configmap", "a", "-n", ns, check=False)
    assert failed.returncode != 0 and "InternalError" in failed.stderr

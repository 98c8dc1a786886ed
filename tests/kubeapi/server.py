"""KubeAPIServer: the real Kubernetes API protocol over HTTP on 127.0.0.1, in-process, for tests.

Discovery, GET/LIST/WATCH, create, update, delete and the four PATCH formats for the types in
`kubeapi.resources`, with the real server's Status errors, resourceVersion semantics, 410 Gone
after compaction, bookmarks and selectors on watches. Fault injection drops or stalls watch
streams, answers errors, and forgets history. Tests also read and write objects directly.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from kubeapi import openapi, resources
from kubeapi.patches import merge_patch
from kubeapi.resources import Resource
from kubeapi.rollouts import finished_status
from kubeapi.status import ApiError
from kubeapi.store import Store
from kubeapi.tls import certificate, server_context
from kubeapi.transport import Handler, HTTPServer, Response, json_response
from kubeapi.verbs import Request

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}
OPEN_PATHS = ("/version", "/healthz", "/livez", "/readyz")
NOT_FOUND = "the server could not find the requested resource"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class _Fault:
    count: int
    status: int
    path_contains: str | None
    retry_after: int | None


def _load(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    return obj


class KubeAPIServer:
    """A Kubernetes API server in this process; see the module docstring."""

    def __init__(
        self,
        *,
        history: int = 10_000,
        token: str | None = "test-token",
        bookmark_interval: float = 2.0,
        tls: bool = False,
    ) -> None:
        """`tls`: serve HTTPS with a self-signed certificate (kubectl sends tokens only so)."""
        self.tls = tls
        self.store = Store(history)
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.request_log: list[tuple[str, str]] = []
        self.url = ""
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # watch control, read by the streams under store.cond
        self.stopping = False
        self.drop_generation = 0
        self.stall_below: int | None = None  # watches with a smaller id are stalled
        self._next_watch_id = 0
        for name in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> KubeAPIServer:
        httpd = HTTPServer(("127.0.0.1", 0), Handler)
        httpd.api = self
        httpd.tls = server_context() if self.tls else None
        self._httpd = httpd
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeapi"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        with self.store.cond:
            self.stopping = True
            self.store.cond.notify_all()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig for this server: context "test", namespace "default"."""
        path = Path(path)
        user: dict[str, Any] = {"token": self.token} if self.token is not None else {}
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            pem = certificate()[0].read_bytes()
            cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": cluster}],
            "users": [{"name": "test", "user": user}],
            "contexts": [
                {
                    "name": "test",
                    "context": {"cluster": "test", "user": "test", "namespace": "default"},
                }
            ],
            "current-context": "test",
        }
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # --- direct state access for tests (no HTTP) -----------------------------------------------

    @staticmethod
    def _resource(api_version: str, kind: str) -> Resource:
        res = resources.by_kind(api_version, kind)
        if res is None:
            raise ValueError(f"not served: {api_version} {kind}")
        return res

    @staticmethod
    def _namespace(res: Resource, namespace: str | None) -> str | None:
        return (namespace or "default") if res.namespaced else None

    def _identity(self, obj: dict[str, Any]) -> tuple[Resource, str | None, str]:
        res = self._resource(obj.get("apiVersion", ""), obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        return res, self._namespace(res, meta.get("namespace")), meta.get("name", "")

    @property
    def resource_version(self) -> str:
        """The newest resourceVersion (a write takes the next one)."""
        with self.store.cond:
            return str(self.store.rv)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create as a POST would; a missing namespace is created too."""
        res, namespace, _ = self._identity(obj)
        return _load(self.store.create(res, obj, namespace, auto_namespace=True).raw)

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        res = self._resource(api_version, kind)
        entry = self.store.get(res, self._namespace(res, namespace), name)
        return None if entry is None else _load(entry.raw)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        res = self._resource(api_version, kind)
        return [_load(e.raw) for e in self.store.list(res, namespace, None).items]

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Update as a PUT would (status is kept for types with a status subresource)."""
        res, namespace, name = self._identity(obj)
        return _load(self.store.update(res, namespace, name, lambda _: obj).raw)

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Update only the status, as a PUT to the /status subresource would."""
        res, namespace, name = self._identity(obj)
        entry = self.store.update(res, namespace, name, lambda _: obj, status_only=True)
        return _load(entry.raw)

    def patch_merge(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
    ) -> dict[str, Any]:
        """A JSON merge patch, as PATCH with application/merge-patch+json."""
        res = self._resource(api_version, kind)
        change = lambda current: merge_patch(current, patch)  # noqa: E731
        return _load(self.store.update(res, self._namespace(res, namespace), name, change).raw)

    def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any]:
        """Delete; returns the object as it was deleted."""
        res = self._resource(api_version, kind)
        return _load(self.store.delete(res, self._namespace(res, namespace), name).raw)

    def complete_rollout(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any]:
        """Write the status a controller writes once a rollout is done (none runs here)."""
        res = self._resource(api_version, kind)
        entry = self.store.update(
            res,
            self._namespace(res, namespace),
            name,
            lambda current: {**current, "status": finished_status(current)},
            status_only=True,
        )
        return _load(entry.raw)

    # --- fault injection ---------------------------------------------------------------------

    def drop_watches(self) -> None:
        """Cut every open watch stream now, mid-stream (no final chunk), as a network drop."""
        with self.store.cond:
            self.drop_generation += 1
            self.store.cond.notify_all()

    def stall_watches(self) -> None:
        """Open watches send nothing (no events, no bookmarks) until `unstall_watches`."""
        with self.store.cond:
            self.stall_below = self._next_watch_id

    def unstall_watches(self) -> None:
        with self.store.cond:
            self.stall_below = None
            self.store.cond.notify_all()

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        path_contains: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` requests whose path+query contains `path_contains` get `status`."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults = [f for f in self._faults if f.count > 0]
            self._faults.append(_Fault(count, status, path_contains, retry_after))

    def clear_faults(self) -> None:
        """Forget the failures asked for by `fail_next` that have not happened yet."""
        with self._lock:
            self._faults = []

    def expire_history(self) -> None:
        """Forget all history, as etcd compaction: older resourceVersions now get 410 Gone."""
        self.store.expire()

    # --- used by the HTTP handler ------------------------------------------------------------

    def new_watch_id(self) -> int:
        """Called under store.cond."""
        self._next_watch_id += 1
        return self._next_watch_id - 1

    def check_request(self, method: str, target: str, authorization: str | None) -> None:
        with self._lock:
            self.request_log.append((method, target))
        path = urlsplit(target).path
        if self.token is not None and not (authorization is None and path in OPEN_PATHS):
            expected = f"Bearer {self.token}".encode()
            if not hmac.compare_digest((authorization or "").encode(), expected):
                raise ApiError(401, "Unauthorized")
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and (fault.path_contains or "") in target:
                    fault.count -= 1
                    message = (
                        "Too many requests, please try again later."
                        if fault.status == 429
                        else f"injected fault: {fault.status}"
                    )
                    raise ApiError(fault.status, message, retry_after=fault.retry_after)

    def route(self, handler: Handler, method: str, target: str, body: bytes) -> Response | None:
        """The answer to one request, or None when the handler streamed a watch itself."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if method == "GET":
            doc = self._discovery(path)
            if doc is not None:
                return json_response(200, doc)
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, NOT_FOUND)
        watch = query.get("watch") in ("1", "true")
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            inner = resources.by_path(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        res = resources.by_path(group, version, rest[0]) if rest else None
        if res is None or len(rest) > 3:
            raise ApiError(404, NOT_FOUND)
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (sub is not None and (sub != "status" or not res.has_status)) or (
            res.namespaced and name is not None and namespace is None
        ):
            raise ApiError(404, NOT_FOUND)
        request = Request(
            api=self,
            handler=handler,
            res=res,
            namespace=namespace,
            name=name,
            sub=sub,
            query=query,
            body=body,
        )
        if method == "GET" and watch:  # a named watch is a watch of that one object
            request.watch()
            return None
        if method == "GET" and name is None:
            return request.list_objects()
        action: dict[str, Callable[[], Response | None]] = {}
        if name is None:
            action = {"POST": request.create, "DELETE": request.delete_collection}
            if res.namespaced and namespace is None:
                action = {}
        else:
            action = {
                "GET": request.get,
                "PUT": request.update,
                "PATCH": request.patch,
                "DELETE": request.delete,
            }
        if method not in action:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        return action[method]()

    def _discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return VERSION
        if path == "/api":
            return resources.api_versions(self.url.split("://", 1)[1])
        if path == "/apis":
            return resources.api_group_list()
        if path == "/openapi/v3":
            return openapi.root()
        if path.startswith("/openapi/v3/"):
            return openapi.group_version(path.removeprefix("/openapi/v3/"))
        parts = path.split("/")[1:]
        if parts[0] == "api" and len(parts) == 2:
            return resources.resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 2:
            return resources.api_group(parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return resources.resource_list(parts[1], parts[2])
        return None

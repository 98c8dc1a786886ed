"""A ConfigMap or Secret read straight from the API server, as the source of a ``Config``.

One informer per source, narrowed to the object by ``fieldSelector=metadata.name=NAME`` (so a
Role with ``resourceNames`` is enough), on the shared background loop. Versions are the object's
``resourceVersion``; the informer's list+watch (bookmarks, resume, 410 relist with an exact diff)
means every version is delivered or superseded, none twice. While the API server is unreachable
the last good value stays and the source says it is disconnected, until a watch is back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from kubereload.apisource.loop import shared as background
from kubereload.config.source import OnSnapshot, OnUnreadable
from kubereload.kube.config import Cluster, async_client
from kubereload.kube.data import DataKind, decode_data, invalid_base64
from kubereload.kube.errors import ApiError
from kubereload.kube.informer import Informer, Key, StalledError
from kubereload.volume import Layout, Snapshot, SnapshotError

log = logging.getLogger(__name__)

Kind = Literal["configmap", "secret"]
Deleted = Literal["keep", "error"]

_FATAL_AT_START = (401, 403)


class ObjectVersion:
    """What the informer keeps of the object: the bytes we serve and where they came from.

    Equal when the served bytes (and the object's identity) are equal, so a change to another
    key or to metadata alone is no new version. Never shows the values in its repr.
    """

    __slots__ = ("files", "problem", "resource_version", "uid")

    def __init__(
        self, resource_version: str, uid: str, files: Mapping[str, bytes], problem: str | None
    ) -> None:
        self.resource_version = resource_version
        self.uid = uid
        self.files = files
        self.problem = problem

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectVersion) and (other.uid, other.problem, other.files) == (
            self.uid,
            self.problem,
            self.files,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ObjectVersion({self.resource_version}, keys={sorted(self.files)})"

    def snapshot(self) -> Snapshot:
        return Snapshot(self.resource_version, MappingProxyType(dict(self.files)), Layout.OBJECT)


_DELETED: Any = object()


class ApiSource:
    """Watches one ConfigMap or Secret (or one key of it); see the module docstring."""

    mode = "api-watch"

    def __init__(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str,
        cluster: Cluster,
        key: str | None = None,
        deleted: Deleted = "keep",
        timeout: float = 30.0,
    ) -> None:
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.key = key
        self.deleted = deleted
        self.timeout = timeout
        self._cluster = cluster
        self._data_kind = DataKind.parse(kind)
        self._resource = self._data_kind.resource
        self._lock = threading.Lock()
        self._state: Any = None  # None (not listed yet), _DELETED, or an ObjectVersion
        self._delivered: str | None = None
        self._sink: tuple[OnSnapshot, OnUnreadable] | None = None
        self._disconnected: str | None = None
        self._startup_error: str | None = None
        self._broken: str | None = None
        self._synced = False
        self._ready = threading.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._loop = background.acquire()
        asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def __str__(self) -> str:
        where = f"{self.kind} {self.namespace}/{self.name}"
        return where if self.key is None else f"{where} key {self.key}"

    # -- the Source interface (called from the application's threads) --------------------------

    def read(self) -> Snapshot:
        """Wait (up to ``timeout``) for the first list, then the object's current version."""
        if not self._ready.wait(self.timeout):
            why = f" (last error: {self._disconnected})" if self._disconnected else ""
            raise SnapshotError(f"{self}: no answer from the API server in {self.timeout:g} s{why}")
        if self._startup_error is not None:
            raise SnapshotError(f"{self}: {self._startup_error}")
        if self._broken is not None:
            raise SnapshotError(f"{self}: {self._broken}")
        state = self._state
        if state is None or state is _DELETED:
            raise SnapshotError(f"{self}: not found")
        if state.problem is not None:
            raise SnapshotError(f"{self}: {state.problem}")
        snapshot: Snapshot = state.snapshot()
        return snapshot

    def start(
        self, initial: Snapshot | None, on_snapshot: OnSnapshot, on_unreadable: OnUnreadable
    ) -> None:
        with self._lock:
            if self._closed:
                return
            self._sink = (on_snapshot, on_unreadable)
            self._delivered = None if initial is None else initial.version
        # Whatever arrived since read() is delivered on the loop's thread, in order with the rest.
        self._loop.call_soon_threadsafe(self._catch_up)

    def problem(self) -> str | None:
        if self._broken is not None:
            return f"{self}: {self._broken}"
        if self._disconnected is not None:
            return f"{self}: disconnected from the API server ({self._disconnected})"
        if not self._synced and self._state is None:
            return f"{self}: not listed yet"
        if self.deleted == "error" and self._state is _DELETED:
            return f"{self} was deleted"
        return None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._sink = None
        stopped = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        if background.thread is threading.current_thread():
            # Closed from an on_change callback: the loop finishes the stop after we return.
            stopped.add_done_callback(lambda _done: background.release())
            return
        try:
            stopped.result(timeout=10)
        finally:
            background.release()

    # -- on the background loop -------------------------------------------------------------------

    async def _run(self) -> None:
        if self._closed:
            return
        self._task = asyncio.current_task()
        try:
            async with async_client(self._cluster) as client:
                informer: Informer[ObjectVersion] = Informer(
                    client,
                    self._resource,
                    self,
                    transform=self._transform,
                    namespace=self.namespace,
                    field_selector=f"metadata.name={self.name}",
                    on_connection=self._on_connection,
                )
                running = asyncio.create_task(informer.run(), name=str(self))
                try:
                    await informer.synced.wait()
                    self._synced = True
                    self._ready.set()
                    await running
                finally:
                    running.cancel()
                    await asyncio.gather(running, return_exceptions=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: say so where the application looks, never silently
            # by type only: an exception's text (and so a traceback's last line) can quote data
            log.error("%s: watching stopped (%s, a bug)", self, type(exc).__name__)
            self._broken = f"watching stopped ({type(exc).__name__}); no more updates"
            self._ready.set()

    async def _stop(self) -> None:
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _transform(self, obj: dict[str, Any]) -> ObjectVersion:
        metadata = obj["metadata"]
        decoded = decode_data(self._data_kind, obj)  # the one decoder: what a pod would read
        files, problem = decoded.values, None
        if self.key is not None:
            if self.key in decoded.invalid:
                problem = invalid_base64(self.key)
            elif self.key not in files:
                problem = f"has no key {self.key}"
            files = {self.key: files[self.key]} if problem is None else {}
        elif decoded.invalid:
            problem = "; ".join(decoded.problems())
        version = str(metadata.get("resourceVersion") or "")
        return ObjectVersion(version, str(metadata.get("uid") or ""), files, problem)

    # the informer's Handler
    # An event means the API server answered: a list after an outage counts as reconnected.
    def on_add(self, _key: Key, obj: ObjectVersion) -> None:
        self._changed(obj)

    def on_update(self, _key: Key, _old: ObjectVersion, new: ObjectVersion) -> None:
        self._changed(new)

    def on_delete(self, _key: Key, _old: ObjectVersion) -> None:
        self._changed(_DELETED)

    def _changed(self, state: Any) -> None:
        self._state = state
        reconnected, self._disconnected = self._disconnected is not None, None
        self._catch_up(reconnected=reconnected)

    def _on_connection(self, error: Exception | None) -> None:
        if error is None:
            if self._disconnected is not None:
                log.info("%s: connected to the API server again", self)
                self._disconnected = None
                self._catch_up(reconnected=True)
            return
        if isinstance(error, ApiError):
            # The status line only: a Status message is the server's text about our request.
            why = f"{error.code} {error.reason}"
            if not self._synced and error.code in _FATAL_AT_START:
                self._startup_error = f"the API server refused: {why} (see the RBAC in the docs)"
                self._ready.set()
        else:
            why = "no answer in time" if isinstance(error, StalledError) else type(error).__name__
        self._disconnected = why
        self._catch_up()

    def _catch_up(self, *, reconnected: bool = False) -> None:
        """Tell the Config what it has not heard yet. Runs on the loop's thread only."""
        with self._lock:
            sink = self._sink
        if sink is None:
            return
        on_snapshot, on_unreadable = sink
        state = self._state
        fresh = isinstance(state, ObjectVersion) and state.resource_version != self._delivered
        if fresh and state.problem is None:
            self._delivered = state.resource_version
            on_snapshot(state.snapshot())
        elif self._disconnected is not None:
            on_unreadable(SnapshotError(f"{self}: disconnected from the API server"))
        elif state is _DELETED:
            on_unreadable(SnapshotError(f"{self} was deleted"))
        elif isinstance(state, ObjectVersion) and state.problem is not None:
            on_unreadable(SnapshotError(f"{self}: {state.problem}"))
        elif reconnected and state is not None:
            on_unreadable(None)

"""A ConfigMap or Secret read straight from the API server, as the source of a ``Config``.

One :class:`~kubereload.apisource.watcher.ObjectWatch` per source, narrowed to the object by
``fieldSelector=metadata.name=NAME`` (so a Role with ``resourceNames`` is enough), on the shared
watch thread, over the standard library's HTTP client. Versions are the object's
``resourceVersion``; list+watch (bookmarks, resume, 410 relist with an exact diff) means every
version is delivered or superseded, none twice. While the API server is unreachable
the last good value stays and the source says it is disconnected, until a watch is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from kubereload.apisource.loop import threads
from kubereload.apisource.watcher import ObjectWatch
from kubereload.config.source import OnSnapshot, OnUnreadable
from kubereload.kube.data import DataKind, decode_data, invalid_base64
from kubereload.kube.errors import ApiError, ReadTimeoutError
from kubereload.kube.stdlib_client import StdlibClient
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
        client: StdlibClient,
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
        self._data_kind = DataKind.parse(kind)
        self._lock = threading.Lock()
        self._delivering = threading.RLock()  # a callback may close the source meanwhile
        self._state: Any = None  # None (not listed yet), _DELETED, or an ObjectVersion
        self._delivered: str | None = None
        self._sink: tuple[OnSnapshot, OnUnreadable] | None = None
        self._disconnected: str | None = None
        self._startup_error: str | None = None
        self._broken: str | None = None
        self._ready = threading.Event()
        self._closed = False
        self._watch: ObjectWatch[ObjectVersion] = ObjectWatch(
            client,
            self._data_kind.resource,
            namespace,
            name,
            self,
            transform=self._transform,
            on_connection=self._on_connection,
        )
        threads.add(self._watch, self._stopped)

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
        # Whatever arrived since read() is delivered now; later versions on the watch thread.
        # The lock keeps the two in order: one delivery at a time.
        self._catch_up()

    def problem(self) -> str | None:
        if self._broken is not None:
            return f"{self}: {self._broken}"
        if self._disconnected is not None:
            return f"{self}: disconnected from the API server ({self._disconnected})"
        if not self._watch.synced.is_set() and self._state is None:
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
        threads.remove(self._watch, timeout=self.timeout + 10)

    # -- on the watch thread --------------------------------------------------------------------

    def _stopped(self, exc: BaseException) -> None:
        """A bug stopped the watch: say so where the application looks, never silently."""
        # by type only: an exception's text (and so a traceback's last line) can quote data
        log.error("%s: watching stopped (%s, a bug)", self, type(exc).__name__)
        self._broken = f"watching stopped ({type(exc).__name__}); no more updates"
        self._ready.set()

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

    # the watch's Handler
    # An event means the API server answered: a list after an outage counts as reconnected.
    def on_add(self, obj: ObjectVersion) -> None:
        self._changed(obj)

    def on_update(self, _old: ObjectVersion, new: ObjectVersion) -> None:
        self._changed(new)

    def on_delete(self, _old: ObjectVersion) -> None:
        self._changed(_DELETED)

    def on_synced(self) -> None:
        self._ready.set()  # the first list is in: read() answers from here

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
            if not self._watch.synced.is_set() and error.code in _FATAL_AT_START:
                self._startup_error = f"the API server refused: {why} (see the RBAC in the docs)"
                self._ready.set()
        else:
            why = (
                "no answer in time" if isinstance(error, ReadTimeoutError) else type(error).__name__
            )
        self._disconnected = why
        self._catch_up()

    def _catch_up(self, *, reconnected: bool = False) -> None:
        """Tell the Config what it has not heard yet, one delivery at a time."""
        with self._delivering:
            self._deliver(reconnected=reconnected)

    def _deliver(self, *, reconnected: bool) -> None:
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

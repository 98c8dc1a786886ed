"""One object kept in step with the API server: the informer's protocol, for a single name.

List with ``fieldSelector=metadata.name=NAME`` (so absence has a resourceVersion too), then
watch from there with bookmarks and ``timeoutSeconds``; resume from the last resourceVersion
after any end; on 410 Gone list again at once and emit only the difference from what is known,
so the handler sees every version once or a later one that supersedes it, never one twice. A
watch silent ``stall_timeout`` seconds past the end it asked for is judged dead; TCP keepalive
finds a vanished peer sooner. Retries back off with jitter (a refused connection, as during an
API server restart, retries within a second).

The asyncio :class:`~kubereload.kube.informer.Informer` does this for a whole kind; this one is
a step machine that :mod:`kubereload.apisource.loop` drives from one thread, on the standard
library's HTTP client, so an application's API source loads neither asyncio nor httpx2.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from kubereload.backoff import CONNECT_RETRY_CAP, Backoff
from kubereload.kube.config import KubeConfigError
from kubereload.kube.errors import (
    ApiError,
    ConnectError,
    GoneError,
    KubeError,
    ReadTimeoutError,
    TransportError,
    status_error,
)
from kubereload.kube.resources import Resource
from kubereload.kube.stdlib_client import StdlibClient, WatchStream

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Handler(Protocol[T_contra]):
    """What the watch tells its owner, on the watch thread, one call at a time, in order."""

    def on_add(self, obj: T_contra) -> None: ...
    def on_update(self, old: T_contra, new: T_contra) -> None: ...
    def on_delete(self, old: T_contra) -> None: ...
    def on_synced(self) -> None: ...


class StalledWatch(ReadTimeoutError):
    """The watch outlived the ``timeoutSeconds`` it asked for by ``stall_timeout`` seconds
    with nothing received: the server would have ended it, so the connection is dead."""


_UNUSABLE: Any = object()


class ObjectWatch(Generic[T]):
    """Keeps ``transform(obj)`` of one named object; see the module docstring.

    The loop calls :meth:`advance` when :attr:`due` has come and no stream is open,
    :meth:`readable` when the stream has bytes, :meth:`check_stall` on every wake-up. ``synced``
    is set once the first list has been delivered.
    """

    def __init__(
        self,
        client: StdlibClient,
        resource: Resource,
        namespace: str,
        name: str,
        handler: Handler[T],
        *,
        transform: Callable[[dict[str, Any]], T],
        on_connection: Callable[[Exception | None], None],
        watch_timeout: float = 300.0,
        stall_timeout: float = 60.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.handler = handler
        self.transform = transform
        self.on_connection = on_connection
        self.watch_timeout = watch_timeout
        self.stall_timeout = stall_timeout
        self.backoff = backoff or Backoff()
        self._connect_backoff = Backoff(self.backoff.initial, CONNECT_RETRY_CAP)
        self.synced = threading.Event()
        self.stream: WatchStream | None = None
        self.due = 0.0  # monotonic time of the next list or watch
        self.deadline = float("inf")  # monotonic time the open watch is judged stalled
        self.resource_version = ""
        self._known: tuple[str, T] | None = None
        self._need_list = True
        self._fresh_list = False  # no watch event since the last list
        self._received = False  # the open watch delivered an event or bookmark
        self._progressed = False
        self._began = 0.0
        self._read_timeout = 0.0
        self.label = f"{resource.plural} {namespace}/{name}"

    def wake_at(self) -> float:
        return self.deadline if self.stream is not None else self.due

    # -- steps, called by the loop --------------------------------------------------------------
    def advance(self) -> None:
        """List if needed, then open the next watch (blocking, up to the client's timeout)."""
        try:
            if self._need_list:
                self._list()
                self._need_list, self._fresh_list = False, True
            self._open()
        except (KubeError, KubeConfigError, ValueError, KeyError, TypeError) as err:
            self._handle(err)

    def readable(self) -> None:
        stream = self.stream
        assert stream is not None
        try:
            for line in stream.read():
                self._event(json.loads(line))
                self._received = self._progressed = True
                self.deadline = time.monotonic() + self._read_timeout
            if stream.ended:
                self._ended()
        except (KubeError, ValueError, KeyError, TypeError) as err:
            self.end_stream()
            self._handle(err)

    def check_stall(self, now: float) -> None:
        if self.stream is not None and now >= self.deadline:
            self.end_stream()
            self._handle(StalledWatch("no byte within the watch's timeout and the stall margin"))

    def end_stream(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        self.deadline = float("inf")

    # -- the protocol ---------------------------------------------------------------------------
    def _list(self) -> None:
        body = self.client.list(
            self.resource, self.namespace, {"fieldSelector": f"metadata.name={self.name}"}
        )
        items = [
            obj
            for obj in body.get("items") or []
            if isinstance(obj, dict) and (obj.get("metadata") or {}).get("name") == self.name
        ]
        version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        if items:
            self._apply(items[0])
        elif self._known is not None:
            _rv, old = self._known
            self._known = None
            self._deliver(self.handler.on_delete, old)
        self.resource_version = version
        if not self.synced.is_set():
            self.synced.set()
            logger.info("%s: synced", self.label)
            self._deliver(self.handler.on_synced)

    def _open(self) -> None:
        # Spread reconnects over [watch_timeout, 2 * watch_timeout), as client-go does.
        server_timeout = max(1, int(self.watch_timeout * (1 + random.random())))
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": self.resource_version,
            "timeoutSeconds": str(server_timeout),
            "fieldSelector": f"metadata.name={self.name}",
        }
        self._progressed = self._received = False
        self.stream = self.client.watch(self.resource, self.namespace, params)
        self._began = time.monotonic()
        # A healthy server ends the watch after timeoutSeconds, quiet or not: no byte for
        # longer than that (plus a margin) means a dead connection.
        self._read_timeout = server_timeout + self.stall_timeout
        self.deadline = self._began + self._read_timeout
        self.on_connection(None)

    def _ended(self) -> None:
        """The server ended the watch cleanly: resume at once, or back off if it ended at
        once with nothing sent (a proxy cutting streams?), so there is no busy loop."""
        self.end_stream()
        now = time.monotonic()
        self.due = now
        if self._received:
            self.backoff.reset()
            self._connect_backoff.reset()
            self._fresh_list = False
        elif now - self._began < 1.0:
            delay = self.backoff.next()
            logger.warning("%s: watch ended at once; retrying in %.2f s", self.label, delay)
            self.due = now + delay

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            raise status_error(500, obj)
        rv = str(obj["metadata"]["resourceVersion"])
        if kind == "BOOKMARK":
            self.resource_version = rv
        elif kind in ("ADDED", "MODIFIED"):
            self._apply(obj)
            self.resource_version = rv
        elif kind == "DELETED":
            known, self._known = self._known, None
            self.resource_version = rv
            if known is not None:
                self._deliver(self.handler.on_delete, known[1])
        else:
            logger.warning("%s: ignoring watch event of unknown type %r", self.label, kind)

    def _apply(self, obj: dict[str, Any]) -> None:
        """A version of the object from a list or an event: delivered unless known already,
        or equal (as transformed) to what is known."""
        rv = str(obj["metadata"].get("resourceVersion") or "")
        known = self._known
        if known is not None and known[0] == rv:
            return  # already delivered (same version): never twice
        value = self._transform(obj)
        if value is _UNUSABLE:
            return
        self._known = (rv, value)
        if known is None:
            self._deliver(self.handler.on_add, value)
        elif known[1] != value:
            self._deliver(self.handler.on_update, known[1], value)

    def _transform(self, obj: dict[str, Any]) -> Any:
        """``transform(obj)``, or _UNUSABLE when it raises: that version is skipped (logged)
        instead of failing the list or watch again and again."""
        try:
            return self.transform(obj)
        except Exception as err:
            # Only the type: the message could quote a value.
            logger.error(
                "%s: skipping a version: transform raised %s", self.label, type(err).__name__
            )
            return _UNUSABLE

    def _deliver(self, method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except Exception as err:
            logger.error(
                "%s: handler %s raised %s", self.label, method.__name__, type(err).__name__
            )

    def _handle(self, err: Exception) -> None:
        """Schedule the next attempt after ``err``, telling the owner unless it is a 410."""
        now = time.monotonic()
        delay = 0.0
        if isinstance(err, GoneError):
            # Our resourceVersion is too old (after an API server restart every resumed watch
            # gets this): list again and diff, at once; only a 410 straight after a list (a
            # server whose history is shorter than a round trip) waits first.
            logger.info("%s: resourceVersion expired (410 Gone), listing again", self.label)
            if self._need_list or self._fresh_list:
                delay = self.backoff.next()
            else:
                self.backoff.reset()
                self._connect_backoff.reset()
            self._need_list = True
        elif isinstance(err, StalledWatch):
            self._failed(
                f"watch stalled: nothing received {self.stall_timeout:g} s after the server"
                " should have ended it (dead connection)",
                err,
            )
            self._reset_backoff_after_progress()
        elif isinstance(err, ApiError):
            self._failed(f"API error: {err.code} {err.reason}", err)
            self._reset_backoff_after_progress()
            delay = err.retry_after if err.retry_after is not None else self.backoff.next()
        elif isinstance(err, ConnectError) and isinstance(err.__cause__, ConnectionRefusedError):
            self._failed(f"connection refused: {err}", err)
            self._progressed = False
            # Whatever answers next is a server (re)started since: its errors start the
            # general back-off over, instead of inheriting what the outage grew.
            self.backoff.reset()
            delay = self._connect_backoff.next()
        else:
            what = str(err) if isinstance(err, (TransportError, KubeConfigError)) else ""
            self._failed(f"connection error: {type(err).__name__}: {what}".rstrip(": "), err)
            self._reset_backoff_after_progress()
            delay = self.backoff.next()
        self.due = now + delay

    def _reset_backoff_after_progress(self) -> None:
        """A watch that failed after delivering something was healthy until then: retry soon,
        or occasional drops over months would ratchet every reconnect up to the cap."""
        if self._progressed:
            self.backoff.reset()
            self._progressed = False

    def _failed(self, message: str, err: Exception) -> None:
        logger.warning(
            "%s: %s; resuming from resourceVersion %s",
            self.label,
            message,
            self.resource_version or "(none)",
        )
        self.on_connection(err)

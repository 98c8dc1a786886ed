"""An informer: the current set of one kind of object, kept in step with the API server.

List, then watch from the list's resourceVersion with bookmarks; after a disconnect resume from
the last resourceVersion seen (with backoff and jitter); on 410 Gone list again at once and emit
only the differences from what is known, so the handler sees every change once or a later state
that supersedes it, never the same one twice. Only ``transform(object)`` is kept in memory.

Silence is normal: a real API server can send nothing, not even a bookmark, for the whole life
of a watch on a quiet resource. So each watch asks the server to end it (``timeoutSeconds``) and
is resumed then; only a watch still silent ``stall_timeout`` seconds past that point is judged
dead. A connection whose peer vanished is found sooner by TCP keepalive (see ``kube.config``).

It is asyncio-based: one event loop runs any number of informers, each a task whose only cost
while idle is an open socket; timeouts and cancellation are per-await, not per-thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from kubereload.backoff import CONNECT_RETRY_CAP, Backoff
from kubereload.kube.client import KubeClient
from kubereload.kube.errors import (
    ApiError,
    ConnectError,
    GoneError,
    ReadTimeoutError,
    TransportError,
    status_error,
)
from kubereload.kube.resources import Resource

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
Key = tuple[str, str]
"""(namespace, name); the namespace is "" for cluster-scoped kinds."""

HandlerResult = Awaitable[None] | None


class Handler(Protocol[T_contra]):
    """What an informer tells its owner; each method may be a plain or an ``async`` function."""

    def on_add(self, key: Key, obj: T_contra) -> HandlerResult: ...
    def on_update(self, key: Key, old: T_contra, new: T_contra) -> HandlerResult: ...
    def on_delete(self, key: Key, old: T_contra) -> HandlerResult: ...


@dataclass
class InformerState:
    """What health checks and metrics report about one informer."""

    synced: bool = False
    connected: bool = False
    objects: int = 0
    resource_version: str = ""
    last_event: float | None = None  # wall-clock time of the last event or bookmark
    watches: int = 0  # watch requests the server accepted (each ends on its timeoutSeconds)
    reconnects: int = 0  # watches resumed after an error or a stall
    relists: int = 0  # full lists after the first (410 Gone)
    last_error: str | None = None


class StalledError(Exception):
    """The watch outlived the ``timeoutSeconds`` it asked for by ``stall_timeout`` seconds
    with nothing received: the server would have ended it, so the connection is dead."""


_UNUSABLE: Any = object()


def _refused(err: BaseException) -> bool:
    """Whether the server's host refused the connection (nothing listening on the port)."""
    seen: BaseException | None = err
    for _ in range(8):  # ours -> the HTTP library's -> OSError -> ConnectionRefusedError
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def object_key(obj: Mapping[str, Any]) -> Key:
    metadata = obj["metadata"]
    # one copy of each namespace's name, however many objects it holds
    return (sys.intern(str(metadata.get("namespace") or "")), str(metadata["name"]))


def _identity(obj: dict[str, Any]) -> Any:
    return obj


class _ObjectMeta(msgspec.Struct):
    """ObjectMeta as listed, less ``managedFields`` (and the obsolete ``selfLink``).

    managedFields is most of a small object's metadata, thousands of small dicts and strings
    per page that nothing here reads: not decoding them keeps a first list's peak, and the
    heap it leaves fragmented, small. Values are ``Any``: a transform judges them, as before.
    """

    name: Any = UNSET
    generateName: Any = UNSET
    namespace: Any = UNSET
    uid: Any = UNSET
    resourceVersion: Any = UNSET
    generation: Any = UNSET
    creationTimestamp: Any = UNSET
    deletionTimestamp: Any = UNSET
    deletionGracePeriodSeconds: Any = UNSET
    labels: Any = UNSET
    annotations: Any = UNSET
    ownerReferences: Any = UNSET
    finalizers: Any = UNSET


class _Item(msgspec.Struct):
    """One listed object: every top-level field of the kinds read (workloads, their CRDs,
    ConfigMaps, Secrets, Namespaces)."""

    metadata: _ObjectMeta | UnsetType = UNSET
    apiVersion: Any = UNSET
    kind: Any = UNSET
    spec: Any = UNSET
    status: Any = UNSET
    data: Any = UNSET
    binaryData: Any = UNSET
    stringData: Any = UNSET
    type: Any = UNSET
    immutable: Any = UNSET


class _ListMeta(msgspec.Struct, rename={"continue_": "continue"}):
    resourceVersion: Any = UNSET
    continue_: Any = UNSET


class _Page(msgspec.Struct):
    metadata: _ListMeta | UnsetType = UNSET
    items: list[_Item] | None = None


_decode_page = msgspec.json.Decoder(_Page).decode


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {
        name: value
        for name in struct.__struct_fields__
        if (value := getattr(struct, name)) is not UNSET
    }


def _plain(item: _Item) -> dict[str, Any]:
    """A listed object as the dict a watch event carries (less managedFields)."""
    obj = _fields(item)
    if isinstance(item.metadata, _ObjectMeta):
        obj["metadata"] = _fields(item.metadata)
    return obj


async def list_pages(
    client: KubeClient,
    resource: Resource,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    page_size: int = 500,
) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """Yield ``(items, resourceVersion)`` page by page (``limit``/``continue``), so a list of
    10 000 objects never sits in memory as one decoded body; items come without
    ``metadata.managedFields``. A ``continue`` token that expired (410) restarts the list:
    raises :class:`GoneError` for the caller to start over."""
    params: dict[str, str] = {"limit": str(page_size)}
    if label_selector:
        params["labelSelector"] = label_selector
    if field_selector:
        params["fieldSelector"] = field_selector
    while True:
        page = _decode_page(await client.list_body(resource, namespace, params))
        meta = page.metadata if isinstance(page.metadata, _ListMeta) else _ListMeta()
        items = [_plain(item) for item in page.items or ()]
        del page  # the decoded page, so each object is held once: as its plain dict
        yield items, str(meta.resourceVersion or "")
        token = meta.continue_
        if not token:
            return
        params["continue"] = str(token)


class Informer(Generic[T]):
    """Keeps ``transform(obj)`` for every object of ``resource`` matching the selectors.

    ``await informer.run()`` runs until cancelled; ``informer.synced`` is set once the first
    list has been delivered. Handler calls happen on the event loop, one at a time, in order.
    A change is judged on what the transform keeps: a new resourceVersion whose transformed
    value equals the old one (say, only an annotation changed) calls no handler. Include
    ``metadata.uid`` in the value to see an object deleted and re-created with equal content.
    """

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        handler: Handler[T],
        *,
        transform: Callable[[dict[str, Any]], T] = _identity,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        stall_timeout: float = 60.0,
        watch_timeout: float = 300.0,
        page_size: int = 500,
        backoff: Backoff | None = None,
        on_connection: Callable[[Exception | None], None] | None = None,
    ) -> None:
        """``on_connection(None)`` is called when a watch is established, ``on_connection(err)``
        when a list or watch fails (not for 410 Gone, which is part of the protocol)."""
        self.client = client
        self.resource = resource
        self.handler = handler
        self.transform = transform
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.stall_timeout = stall_timeout
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.backoff = backoff or Backoff()
        self.on_connection = on_connection
        self._connect_backoff = Backoff(self.backoff.initial, CONNECT_RETRY_CAP)
        self._progressed = False  # the current watch delivered an event or bookmark
        self.state = InformerState()
        self.synced = asyncio.Event()
        self._store: dict[Key, tuple[str, T]] = {}
        self.name = self._describe()

    def _describe(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        parts = [self.resource.plural, where if self.resource.namespaced else ""]
        if self.label_selector:
            parts.append(f"labels {self.label_selector}")
        if self.field_selector:
            parts.append(f"fields {self.field_selector}")
        return " ".join(p for p in parts if p)

    # -- the cache, read-only for callers ------------------------------------------------------
    def get(self, key: Key) -> T | None:
        entry = self._store.get(key)
        return None if entry is None else entry[1]

    def keys(self) -> Iterator[Key]:
        return iter(list(self._store))

    def items(self) -> Iterator[tuple[Key, T]]:
        return iter([(key, value) for key, (_rv, value) in self._store.items()])

    def __len__(self) -> int:
        return len(self._store)

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled. Run again after a cancel, it resumes from the last
        resourceVersion seen (and lists again only if that has expired)."""
        need_list = not self.state.synced
        fresh_list = False  # no watch event since the last list
        while True:
            delay = 0.0
            try:
                if need_list:
                    await self._list()
                    need_list, fresh_list = False, True
                began = time.monotonic()
                if await self._watch():
                    self.backoff.reset()
                    self._connect_backoff.reset()
                    fresh_list = False
                elif time.monotonic() - began < 1.0:
                    # Ended at once with nothing sent (a proxy cutting streams?): no busy loop.
                    delay = self.backoff.next()
                    logger.warning("%s: watch ended at once; retrying in %.2f s", self.name, delay)
                    await asyncio.sleep(delay)
                else:
                    logger.debug("%s: watch ended on its timeout; resuming", self.name)
                continue  # the server ended the watch on time: resume at once
            except GoneError:
                # Our resourceVersion is too old (after an API server restart every resumed
                # watch gets this): list again and diff, at once. Only a 410 straight after a
                # list (a server whose history is shorter than a round trip) waits first.
                logger.info("%s: resourceVersion expired (410 Gone), listing again", self.name)
                if need_list or fresh_list:
                    delay = self.backoff.next()
                else:
                    self.backoff.reset()
                    self._connect_backoff.reset()
                need_list = True
            except StalledError as err:
                self._failed(
                    f"watch stalled: nothing received {self.stall_timeout:g} s after the"
                    " server should have ended it (dead connection)",
                    err,
                )
                self._reset_backoff_after_progress()
            except ApiError as err:
                self._failed(f"API error: {err}", err)
                self._reset_backoff_after_progress()
                delay = err.retry_after if err.retry_after is not None else self.backoff.next()
            except ConnectError as err:
                if _refused(err):
                    self._failed(f"connection refused: {err}", err)
                    self._progressed = False
                    # Whatever answers next is a server (re)started since: its errors start
                    # the general back-off over, instead of inheriting what the outage grew.
                    self.backoff.reset()
                    delay = self._connect_backoff.next()
                else:  # TLS, DNS, unreachable: no cheaper for anyone than other errors
                    self._failed(f"cannot connect: {err}", err)
                    self._reset_backoff_after_progress()
                    delay = self.backoff.next()
            except TransportError as err:
                self._failed(f"connection error: {err}", err)
                self._reset_backoff_after_progress()
                delay = self.backoff.next()
            except (ValueError, KeyError, TypeError) as err:
                self._failed(f"connection error: {type(err).__name__}: {err}", err)
                self._reset_backoff_after_progress()
                delay = self.backoff.next()
            finally:
                self.state.connected = False
            await asyncio.sleep(delay)

    def _reset_backoff_after_progress(self) -> None:
        """A watch that failed after delivering something was healthy until then: retry soon.

        Without this, occasional drops over months would ratchet every reconnect up to the cap.
        """
        if self._progressed:
            self.backoff.reset()
            self._progressed = False

    def _failed(self, message: str, err: Exception) -> None:
        self.state.reconnects += 1
        self.state.last_error = message
        logger.warning(
            "%s: %s; resuming from resourceVersion %s",
            self.name,
            message,
            self.state.resource_version or "(none)",
        )
        if self.on_connection is not None:
            self.on_connection(err)

    async def _list(self) -> None:
        """List, and emit exactly the differences from what is known.

        Additions and changes are delivered page by page, so a first list of thousands never
        holds every transformed value at once; deletions, which need the whole list, come
        after the last page. A list that fails half-way leaves a state that the next list
        diffs against just the same.
        """
        seen: set[Key] = set()
        version = ""
        async for page, page_version in list_pages(
            self.client,
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        ):
            version = page_version
            for obj in page:
                key = object_key(obj)
                rv = str(obj["metadata"].get("resourceVersion") or "")
                known = self._store.get(key)
                if known is not None and known[0] == rv:
                    seen.add(key)  # unchanged: no transform, no new allocation
                    continue
                value = self._transform(key, obj)
                if value is _UNUSABLE:
                    continue
                seen.add(key)
                self._store[key] = (rv, value)
                if known is None:
                    await self._deliver(self.handler.on_add, key, value)
                elif known[1] != value:
                    await self._deliver(self.handler.on_update, key, known[1], value)
            self.state.objects = len(self._store)
        for key in [k for k in self._store if k not in seen]:
            _rv, old = self._store.pop(key)
            await self._deliver(self.handler.on_delete, key, old)
        self.state.objects = len(self._store)
        if self.state.synced:
            self.state.relists += 1
        self.state.resource_version = version
        self.state.last_event = time.time()
        if not self.state.synced:
            self.state.synced = True
            self.synced.set()
            logger.info("%s: synced, %d objects", self.name, len(self._store))

    async def _watch(self) -> bool:
        """One watch request; returns whether it received anything. Raises on errors."""
        # Spread reconnects of many informers over [watch_timeout, 2 * watch_timeout), as
        # client-go does; at least 1 s (0 would mean the server's own default).
        server_timeout = max(1, int(self.watch_timeout * (1 + random.random())))
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": self.state.resource_version,
            "timeoutSeconds": str(server_timeout),
        }
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        # The read timeout is the stall detector. A healthy server ends the watch after
        # timeoutSeconds, quiet or not; no byte for longer than that means a dead connection.
        received = False
        self._progressed = False
        try:
            async with self.client.watch(
                self.resource,
                self.namespace,
                params,
                read_timeout=server_timeout + self.stall_timeout,
            ) as lines:
                self.state.connected = True
                if self.on_connection is not None:
                    self.on_connection(None)
                self.state.watches += 1
                async for line in lines:
                    if line.strip():
                        await self._event(json.loads(line))
                        received = self._progressed = True
        except ReadTimeoutError as err:
            raise StalledError from err
        return received

    async def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        self.state.last_event = time.time()
        if kind == "ERROR":
            raise status_error(500, obj)
        rv = str(obj["metadata"]["resourceVersion"])
        if kind == "BOOKMARK":
            self.state.resource_version = rv
            return
        key = object_key(obj)
        known = self._store.get(key)
        if kind in ("ADDED", "MODIFIED"):
            if known is not None and known[0] == rv:
                self.state.resource_version = rv
                return  # already delivered (same version): never twice
            value = self._transform(key, obj)
            if value is _UNUSABLE:
                self.state.resource_version = rv
                return
            self._store[key] = (rv, value)
            self.state.objects = len(self._store)
            self.state.resource_version = rv
            if known is None:
                await self._deliver(self.handler.on_add, key, value)
            elif known[1] != value:
                await self._deliver(self.handler.on_update, key, known[1], value)
        elif kind == "DELETED":
            self._store.pop(key, None)
            self.state.objects = len(self._store)
            self.state.resource_version = rv
            if known is not None:
                await self._deliver(self.handler.on_delete, key, known[1])
        else:
            logger.warning("%s: ignoring watch event of unknown type %r", self.name, kind)

    def _transform(self, key: Key, obj: dict[str, Any]) -> Any:
        """``transform(obj)``, or _UNUSABLE when it raises: that version of the object is
        skipped (logged) instead of failing the whole list or watch again and again."""
        try:
            return self.transform(obj)
        except Exception as err:
            # Only the type: the message could quote a value.
            logger.error(
                "%s: skipping %s/%s: transform raised %s", self.name, *key, type(err).__name__
            )
            return _UNUSABLE

    async def _deliver(self, method: Callable[..., HandlerResult], *args: Any) -> None:
        try:
            result = method(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            key = args[0]
            logger.exception("%s: handler %s failed for %s/%s", self.name, method.__name__, *key)

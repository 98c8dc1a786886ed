"""Objects, the global resourceVersion counter and the event history, behind one lock.

Like etcd: every write takes the next revision, a list is a consistent snapshot at one revision,
and a watch resumes from any revision still in the history. Stored objects are never mutated;
each keeps its JSON encoding so lists and watches send bytes without re-encoding.
"""

from __future__ import annotations

import bisect
import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeapi import strategy
from kubeapi.resources import NAMESPACE, RESOURCES, Resource
from kubeapi.selectors import Predicate
from kubeapi.status import (
    STALE,
    already_exists,
    bad_name,
    bad_namespace,
    conflict,
    expired,
    not_found,
    too_large_rv,
)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Entry:
    obj: dict[str, Any]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Event:
    rv: int
    type: str
    res: Resource
    key: str
    namespace: str
    entry: Entry
    prev: Entry | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Entry]
    rv: int
    next_key: str | None
    remaining: int | None


def object_key(res: Resource, namespace: str | None, name: str) -> str:
    """The etcd key suffix; sorting by it gives the real server's list order."""
    return f"{namespace}/{name}" if res.namespaced else name


class Store:
    def __init__(self, history: int) -> None:
        self.cond = threading.Condition()
        self.history = history
        self.rv = 0
        self.objects: dict[Resource, dict[str, Entry]] = {r: {} for r in RESOURCES}
        self._sorted: dict[Resource, list[str]] = {}
        self.events: list[Event] = []
        self.base = 0  # absolute index of events[0]; watch cursors are absolute
        self.forgotten_rv = 0  # the newest revision no longer in the history
        # Kinds written since the server started: the real watch cache sends no bookmark
        # for a kind before its first event (v1.24, lastProcessedResourceVersion == 0).
        self.written_kinds: set[Resource] = set()

    # --- history -----------------------------------------------------------------------------

    def oldest_resumable(self) -> int:
        """The oldest resourceVersion a watch or exact list may still start from."""
        if len(self.events) > self.history:
            return self.events[len(self.events) - self.history - 1].rv
        return self.forgotten_rv

    def expire(self) -> None:
        with self.cond:
            self.base += len(self.events)
            self.events.clear()
            self.forgotten_rv = self.rv
            self.cond.notify_all()

    def _trim(self) -> None:
        if len(self.events) > 2 * self.history + 1000:
            drop = len(self.events) - self.history
            self.forgotten_rv = self.events[drop - 1].rv
            del self.events[:drop]
            self.base += drop

    def _commit(
        self, res: Resource, kind: str, key: str, obj: dict[str, Any], prev: Entry | None
    ) -> Entry:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        entry = Entry(obj, encode(obj))
        table = self.objects[res]
        if kind == DELETED:
            del table[key]
            self._sorted.pop(res, None)
        else:
            if key not in table:
                self._sorted.pop(res, None)
            table[key] = entry
        namespace = obj["metadata"].get("namespace", "")
        self.written_kinds.add(res)
        self.events.append(Event(self.rv, kind, res, key, namespace, entry, prev))
        self._trim()
        self.cond.notify_all()
        return entry

    def events_since(self, cursor: int) -> tuple[list[Event], int] | None:
        """Events from absolute index `cursor` on (caller holds the lock); None if forgotten."""
        if cursor < self.base:
            return None
        return self.events[cursor - self.base :], self.base + len(self.events)

    def watch_cursor(self, rv: int) -> int:
        """The absolute index of the first event after `rv` (caller holds the lock)."""
        if rv < self.oldest_resumable():
            raise expired(f"too old resource version: {rv} ({self.oldest_resumable()})")
        return self.base + bisect.bisect_right(self.events, rv, key=lambda e: e.rv)

    def wait_for_rv(self, rv: int) -> None:
        """A read at a future revision waits a little for it, then fails as the real one does."""
        if rv > self.rv and not self.cond.wait_for(lambda: self.rv >= rv, timeout=3.0):
            raise too_large_rv(rv, self.rv)

    # --- reads -------------------------------------------------------------------------------

    def get(self, res: Resource, namespace: str | None, name: str) -> Entry | None:
        with self.cond:
            return self.objects[res].get(object_key(res, namespace, name))

    def _keys(self, res: Resource) -> list[str]:
        keys = self._sorted.get(res)
        if keys is None:
            keys = self._sorted[res] = sorted(self.objects[res])
        return keys

    def _state_at(self, res: Resource, rv: int) -> tuple[dict[str, Entry], list[str]]:
        if rv == self.rv:
            return self.objects[res], self._keys(res)
        if rv < self.oldest_resumable():
            raise expired("The resourceVersion for the provided list is too old.")
        state = dict(self.objects[res])
        for event in reversed(self.events):
            if event.rv <= rv:
                break
            if event.res is res:
                if event.prev is None:
                    del state[event.key]
                else:
                    state[event.key] = event.prev
        return state, sorted(state)

    def list(
        self,
        res: Resource,
        namespace: str | None,
        match: Predicate | None,
        *,
        at_rv: int | None = None,
        min_rv: int | None = None,
        start: str = "",
        limit: int = 0,
    ) -> Page:
        """One page of a list: at the current revision (waiting for `min_rv` first), or at
        `at_rv` exactly (410 if forgotten)."""
        with self.cond:
            if at_rv is not None or min_rv is not None:
                self.wait_for_rv(at_rv if at_rv is not None else min_rv or 0)
            rv = self.rv if at_rv is None else at_rv
            state, keys = self._state_at(res, rv)
            prefix = f"{namespace}/" if namespace and res.namespaced else ""
            index = bisect.bisect_left(keys, max(start, prefix))
            items: list[Entry] = []
            next_key: str | None = None
            last = ""
            remaining: int | None = None
            for position in range(index, len(keys)):
                key = keys[position]
                if not key.startswith(prefix):
                    break
                entry = state[key]
                if match is not None and not match(entry.obj):
                    continue
                if limit and len(items) == limit:
                    next_key = last + "\x00"
                    if match is None:
                        end = bisect.bisect_left(keys, prefix + "\uffff") if prefix else len(keys)
                        remaining = end - position
                    break
                items.append(entry)
                last = key
            return Page(items, rv, next_key, remaining)

    # --- writes (callers hold no lock; each runs atomically) ---------------------------------

    def _require_namespace(self, namespace: str, *, auto: bool) -> None:
        if namespace in self.objects[NAMESPACE]:
            return
        if not auto:
            raise not_found(NAMESPACE, namespace)
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        self._commit(
            NAMESPACE, ADDED, namespace, strategy.prepare_create(NAMESPACE, body, None), None
        )

    def create(
        self,
        res: Resource,
        body: dict[str, Any],
        namespace: str | None,
        *,
        dry_run: bool = False,
        auto_namespace: bool = False,
    ) -> Entry:
        """Create; `auto_namespace` creates a missing namespace (direct test set-up only)."""
        with self.cond:
            obj = strategy.prepare_create(res, body, namespace)
            meta = obj["metadata"]
            if res.namespaced:
                self._require_namespace(meta["namespace"], auto=auto_namespace)
            table = self.objects[res]
            key = object_key(res, meta.get("namespace"), meta["name"])
            if (
                key in table
                and "generateName" in meta
                and not (body.get("metadata") or {}).get("name")
            ):
                while key in table:
                    meta["name"] = strategy.generate_name(meta["generateName"])
                    key = object_key(res, meta.get("namespace"), meta["name"])
            if key in table:
                raise already_exists(res, meta["name"])
            if dry_run:
                return Entry(obj, encode(obj))
            return self._commit(res, ADDED, key, obj, None)

    def update(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> Entry:
        """Update with the body `change(current object)` returns (a PUT body or a patch result).

        A resourceVersion in that body must be the current one (409 otherwise); an update that
        changes nothing writes nothing, keeping the resourceVersion, as etcd does.
        """
        with self.cond:
            key = object_key(res, namespace, name)
            old = self.objects[res].get(key)
            if old is None:
                raise not_found(res, name)
            body = change(copy.deepcopy(old.obj))
            meta = body.get("metadata") or {}
            if meta.get("name", name) != name:
                raise bad_name(meta.get("name"), name)
            if res.namespaced and meta.get("namespace", namespace) != namespace:
                raise bad_namespace()
            wanted = meta.get("resourceVersion")
            if wanted and wanted != old.obj["metadata"]["resourceVersion"]:
                raise conflict(res, name, STALE)
            obj = strategy.prepare_update(res, body, old.obj, status_only=status_only)
            if obj == old.obj or dry_run:
                return old if obj == old.obj else Entry(obj, encode(obj))
            return self._commit(res, MODIFIED, key, obj, old)

    def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> Entry:
        """Delete now (no finalizers or grace periods); a namespace takes its objects along."""
        with self.cond:
            key = object_key(res, namespace, name)
            old = self.objects[res].get(key)
            if old is None:
                raise not_found(res, name)
            meta = old.obj["metadata"]
            if uid and uid != meta["uid"]:
                raise conflict(
                    res,
                    name,
                    f"Precondition failed: UID in precondition: {uid}, "
                    f"UID in object meta: {meta['uid']}",
                )
            if resource_version and resource_version != meta["resourceVersion"]:
                raise conflict(
                    res,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{resource_version}, ResourceVersion in object meta: "
                    f"{meta['resourceVersion']}",
                )
            if dry_run:
                return old
            if res is NAMESPACE:
                prefix = f"{name}/"
                for other in RESOURCES:
                    if other.namespaced:
                        for child in [k for k in self._keys(other) if k.startswith(prefix)]:
                            self._remove(other, child)
            return self._remove(res, key)

    def _remove(self, res: Resource, key: str) -> Entry:
        old = self.objects[res][key]
        return self._commit(res, DELETED, key, copy.deepcopy(old.obj), old)

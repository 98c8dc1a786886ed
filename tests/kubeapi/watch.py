"""One WATCH request: a chunked stream of JSON event lines, as the real server's watch cache.

From resourceVersion "" or "0" (or with sendInitialEvents) the stream starts with ADDED events
for the current objects; from a later version it replays the history after it, or sends an
ERROR event with a 410 Status when that history is gone. Selectors apply to transitions: an
object that stops matching arrives as DELETED. Bookmarks go out as the v1.24 cacher sends
them: every `bookmark_interval` (a minute there) and 2 s before the watch's timeout, but never
for a kind that had no event since the server started (a real server then sends nothing at
all for the watch's whole life).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kubeapi.resources import Resource
from kubeapi.selectors import Predicate
from kubeapi.status import ApiError, int_param
from kubeapi.store import ADDED, DELETED, MODIFIED, Event, encode

if TYPE_CHECKING:
    from kubeapi.server import KubeAPIServer
    from kubeapi.transport import Handler

DEFAULT_TIMEOUT = 1800.0
PRE_TIMEOUT_BOOKMARK = 2.0  # seconds before the watch's deadline (the real cacher's choice)


def _line(kind: str, raw: bytes) -> bytes:
    return b'{"type":"%s","object":%s}\n' % (kind.encode(), raw)


class WatchStream:
    def __init__(
        self,
        *,
        api: KubeAPIServer,
        handler: Handler,
        res: Resource,
        namespace: str | None,
        match: Predicate | None,
        query: dict[str, str],
    ) -> None:
        self.api, self.handler, self.res = api, handler, res
        self.namespace, self.match = namespace, match
        self.rv = query.get("resourceVersion", "")
        self.bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        self.initial = query.get("sendInitialEvents") in ("1", "true")
        timeout = int_param(query, "timeoutSeconds")
        self.timeout = float(timeout) if timeout else DEFAULT_TIMEOUT
        if self.initial and (
            query.get("resourceVersionMatch") != "NotOlderThan" or not self.bookmarks
        ):
            raise ApiError(
                422,
                'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and "
                "allowWatchBookmarks",
            )

    def _convert(self, event: Event) -> bytes | None:
        """The line this watch sends for a stored event, or None (the real cacher's rules)."""
        if event.res is not self.res or (self.namespace and event.namespace != self.namespace):
            return None
        if self.match is None:
            return _line(event.type, event.entry.raw)
        now = event.type != DELETED and self.match(event.entry.obj)
        before = event.prev is not None and self.match(event.prev.obj)
        if now:
            return _line(MODIFIED if before else ADDED, event.entry.raw)
        if not before or event.prev is None:
            return None
        if event.type == DELETED:
            return _line(DELETED, event.entry.raw)
        gone = dict(event.prev.obj)
        gone["metadata"] = {**gone["metadata"], "resourceVersion": str(event.rv)}
        return _line(DELETED, encode(gone))

    def _bookmark(self, rv: int, *, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.res.kind, "apiVersion": self.res.api_version, "metadata": meta}
        return _line("BOOKMARK", encode(obj))

    def run(self) -> None:
        api, store, handler = self.api, self.api.store, self.handler
        error: ApiError | None = None
        initial: list[bytes] = []
        with store.cond:
            watch_id = api.new_watch_id()
            generation = api.drop_generation
            cursor = 0
            start_rv = store.rv
            try:
                if self.rv in ("", "0") or self.initial:
                    page = store.list(self.res, self.namespace, self.match)
                    initial = [_line(ADDED, e.raw) for e in page.items]
                    cursor = store.base + len(store.events)
                else:
                    cursor = store.watch_cursor(int(self.rv))
            except ApiError as err:
                error = err
            except ValueError:
                error = ApiError(400, f'resourceVersion: Invalid value: "{self.rv}"')
        try:
            handler.begin_stream()
            if error is not None:
                handler.chunk(_line("ERROR", encode(error.status())))
                handler.end_stream()
                return
            for i in range(0, len(initial), 500):
                handler.chunk(b"".join(initial[i : i + 500]))
            if self.initial:
                handler.chunk(self._bookmark(start_rv, initial_end=True))
            self._stream(watch_id, generation, cursor)
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _after(now: float, interval: float, pre_deadline: float) -> float:
        """When the next bookmark is due: an interval on, or the pre-timeout one if sooner
        (and once that one is past, only the deadline remains)."""
        due = now + interval
        return min(due, pre_deadline) if now < pre_deadline else due

    def _stream(self, watch_id: int, generation: int, cursor: int) -> None:
        api, store, handler = self.api, self.api.store, self.handler
        interval = api.bookmark_interval
        deadline = time.monotonic() + self.timeout
        pre_deadline = deadline - PRE_TIMEOUT_BOOKMARK
        next_bookmark = self._after(time.monotonic(), interval, pre_deadline)
        while True:
            with store.cond:
                while True:
                    if api.stopping or api.drop_generation != generation:
                        handler.cut()
                        return
                    if api.stall_below is not None and watch_id < api.stall_below:
                        store.cond.wait()
                        continue
                    got = store.events_since(cursor)
                    if got is None:  # fell behind the history: end, the client resumes
                        handler.end_stream()
                        return
                    events, cursor = got
                    now = time.monotonic()
                    bookmark_due = self.bookmarks and now >= next_bookmark
                    if bookmark_due and self.res not in store.written_kinds:
                        bookmark_due = False  # nothing to mark yet: skip this one
                        next_bookmark = self._after(now, interval, pre_deadline)
                    if events or bookmark_due or now >= deadline:
                        break
                    wake = min(deadline, next_bookmark) if self.bookmarks else deadline
                    store.cond.wait(max(0.0, wake - now))
                current = store.rv
            lines = [line for line in map(self._convert, events) if line is not None]
            if bookmark_due:
                lines.append(self._bookmark(current))
                next_bookmark = self._after(now, interval, pre_deadline)
            if lines:
                handler.chunk(b"".join(lines))
            if now >= deadline:
                handler.end_stream()
                return

"""The live config object: the last good value, swapped whole, read without locks.

A reader calls ``get()`` and receives one immutable reference; the watcher thread builds a new
value off to the side and publishes it with a single attribute assignment, so no reader ever sees
a half-updated config and no reader ever waits.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kubereload.config.errors import ConfigError
from kubereload.config.formats import Parser, check_format, format_for, parse
from kubereload.config.limits import DEFAULT_LIMITS, Limits
from kubereload.config.model import validate_with
from kubereload.config.source import Source
from kubereload.volume import Snapshot, SnapshotError

if TYPE_CHECKING:  # asyncio costs memory and start-up; only changes() needs it
    import asyncio

T = TypeVar("T")
log = logging.getLogger(__name__)

OnChange = Callable[[Any, Any], object]
Validator = Callable[[Any], Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_CLOSED: Any = object()


@dataclass(frozen=True)
class _Published:
    version: str | None
    snapshot: Snapshot | None


class Loader:
    """Turns a snapshot into a validated value: parse each file within limits, then the model."""

    def __init__(
        self,
        is_directory: Callable[[], bool],
        *,
        model: Validator | None,
        format: str | None,
        parser: Parser | None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        check_format(format)
        self.is_directory = is_directory
        self.model = model
        self.format = format
        self.parser = parser
        self.limits = limits

    @property
    def directory(self) -> bool:
        """Asked at each load: a watched path may not exist yet when the watch starts."""
        return self.is_directory()

    def __call__(self, snapshot: Snapshot) -> Any:
        if self.directory:
            data: Any = {
                name: parse(name, raw, self.format, self.parser, limits=self.limits)
                for name, raw in snapshot.files.items()
            }
        else:
            ((name, raw),) = snapshot.files.items()
            data = parse(name, raw, self.format, self.parser, limits=self.limits)
        return self._validate(data, snapshot)

    def _validate(self, data: Any, snapshot: Snapshot) -> Any:
        if self.model is None:
            return data
        # Positions of fields are found by composing YAML: right for YAML and JSON only.
        files = {
            name: raw if self._locatable(name) else b"" for name, raw in snapshot.files.items()
        }
        return validate_with(self.model, data, files, directory=self.directory)

    def _locatable(self, name: str) -> bool:
        return self.parser is None and (self.format or format_for(name)) in ("yaml", "json")


class Config(Generic[T]):
    """A watched config. Build one with :func:`kubereload.watch` (or ``watch_configmap``)."""

    def __init__(
        self,
        source: Source,
        loader: Callable[[Snapshot], T],
        *,
        default: Any = MISSING,
    ) -> None:
        self.source = source
        self._loader = loader
        self._value: T = default
        self._published = _Published(None, None)
        self._delivered: str | None = None
        self._error: ConfigError | None = None
        self._rejected: ConfigError | None = None  # the newest version's, until one is accepted
        self._unreadable: ConfigError | None = None  # the source's own complaint, if current
        self._callbacks: list[OnChange] = []
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = []
        self._lock = threading.Lock()  # guards callbacks and subscribers, never get()
        self._cond = threading.Condition()
        self._closed = False

        started = False
        try:
            self._first_load(default)
            source.start(self.snapshot, self._on_snapshot, self._on_unreadable)
            started = True
        finally:
            if not started:  # any failure (even Ctrl-C): no descriptor or thread is left behind
                source.close()

    def _first_load(self, default: Any) -> None:
        error: ConfigError
        try:
            snapshot = self.source.read()
            value = self._loader(snapshot)
        except ConfigError as exc:
            error = exc
        except SnapshotError as exc:
            error = ConfigError(str(exc), kind=exc.kind)
        except Exception as exc:  # a bug in a parser or validator: the default still serves
            error = ConfigError(f"could not load ({type(exc).__name__})", kind="parser")
        else:
            self._value = value
            self._published = _Published(snapshot.version, snapshot)
            self._delivered = snapshot.version
            return
        if default is MISSING:
            raise error  # outside the handler: nothing chained that could quote the config
        log.warning("%s: %s; using the default until a valid config arrives", self.source, error)
        self._error = error

    # -- reading (lock-free) --------------------------------------------------------------------

    def get(self) -> T:
        """The current value. Never blocks; the object returned is never modified afterwards."""
        return self._value

    @property
    def version(self) -> str | None:
        """The kubelet's version directory name, a content hash, or the API object's
        resourceVersion; None while on the default."""
        return self._published.version

    @property
    def snapshot(self) -> Snapshot | None:
        """The files' bytes behind the current value."""
        return self._published.snapshot

    @property
    def delivered_version(self) -> str | None:
        """The newest version whose ``on_change`` callbacks have all returned."""
        return self._delivered

    @property
    def error(self) -> ConfigError | None:
        """Why the last update was rejected (None once a good one arrives)."""
        return self._error

    @property
    def mode(self) -> str:
        """How changes are detected: ``"inotify"``, ``"poll"`` or ``"api-watch"``."""
        return self.source.mode

    def health(self) -> str | None:
        """None while the source can deliver updates, else why not (say, the API is unreachable).

        Shaped for a readiness or liveness probe; a rejected update is not counted here (it is
        ``error``): failing every replica's probe over one bad edit would be an outage.
        """
        return self.source.problem()

    # -- subscribing ----------------------------------------------------------------------------

    def on_change(self, fn: Callable[[T, T], object]) -> Callable[[T, T], object]:
        """Call ``fn(old, new)`` after each accepted change. Usable as a decorator.

        Runs on the watcher's thread; an exception is logged and the watch goes on.
        """
        with self._lock:
            self._callbacks.append(fn)
        return fn

    def remove_callback(self, fn: Callable[[T, T], object]) -> None:
        with self._lock:
            self._callbacks.remove(fn)

    async def changes(self) -> AsyncIterator[T]:
        """Yield each new value, in order, on the caller's event loop; ends when closed."""
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        entry = (loop, queue)
        with self._lock:
            if self._closed:
                return
            self._subscribers.append(entry)
        try:
            while True:
                item = await queue.get()
                if item is _CLOSED:
                    return
                yield item
        finally:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

    def wait_until(
        self, predicate: Callable[[Config[T]], bool], timeout: float | None = None
    ) -> bool:
        """Block until ``predicate(self)`` holds after an update or rejection; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # -- life cycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop watching. The last value stays readable."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subscribers, self._subscribers = self._subscribers, []
        self.source.close()
        for loop, queue in subscribers:
            self._push(loop, queue, _CLOSED)

    def __enter__(self) -> Config[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Config {self.source} version={self.version!r} mode={self.mode}>"

    # -- the watcher's side ---------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        try:
            value = self._loader(snapshot)
        except ConfigError as exc:
            error = exc
        except BaseException as exc:  # a validator's own bug, even SystemExit: reject, go on
            error = ConfigError(f"could not load ({type(exc).__name__})", kind="parser")
        else:
            self._accept(snapshot, value)
            return
        self._reject(snapshot, error)

    def _reject(self, snapshot: Snapshot, error: ConfigError) -> None:
        error.version = snapshot.version
        self._rejected = error
        log.error(
            "%s: rejected update %s, still serving %s: %s",
            self.source,
            snapshot.version,
            self.version,
            error,
        )
        self._set_error(error)

    def _accept(self, snapshot: Snapshot, value: T) -> None:
        old = self._value
        self._published = _Published(snapshot.version, snapshot)
        self._value = value
        if self._error is not None:
            log.info("%s: recovered with version %s", self.source, snapshot.version)
        log.info("%s: config updated to version %s", self.source, snapshot.version)
        self._notify(old, value)
        with self._cond:
            self._delivered = snapshot.version
            self._error = self._rejected = None
            self._cond.notify_all()

    def _on_unreadable(self, exc: SnapshotError | None) -> None:
        if exc is None:  # the source is back (an API watch reconnected): its complaint is over
            if self._error is not None and self._error is self._unreadable:
                log.info("%s: source available again; serving %s", self.source, self.version)
                self._set_error(self._rejected)
            return
        if self._error is not None and self._error.message == str(exc):
            return  # the same problem, already reported
        log.warning("%s: %s; still serving %s", self.source, exc, self.version)
        self._unreadable = ConfigError(str(exc), kind=getattr(exc, "kind", "unreadable"))
        self._set_error(self._unreadable)

    def _set_error(self, error: ConfigError | None) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def _notify(self, old: T, new: T) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
            subscribers = list(self._subscribers)
        for fn in callbacks:
            try:
                fn(old, new)
            except BaseException as exc:  # SystemExit too: one callback must not end the watch
                # Not the exception's text, nor repr(fn) (a partial's shows its arguments):
                # either may hold config values.
                log.error(
                    "%s: on_change callback %s raised %s; the watch goes on",
                    self.source,
                    getattr(fn, "__qualname__", type(fn).__qualname__),
                    type(exc).__name__,
                )
                log.debug("where it raised:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
        for loop, queue in subscribers:
            self._push(loop, queue, new)

    def _push(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # that loop is closed: drop the subscriber
            with self._lock:
                if (loop, queue) in self._subscribers:
                    self._subscribers.remove((loop, queue))


def build_loader(
    source: Path | Callable[[], bool],
    model: Validator | None,
    format: str | None,
    parser: Parser | None,
    limits: Limits = DEFAULT_LIMITS,
) -> Loader:
    """A loader for ``source`` (a path, or a callable saying whether versions are directories)."""
    is_directory = source.is_dir if isinstance(source, Path) else source
    return Loader(is_directory, model=model, format=format, parser=parser, limits=limits)


__all__ = ["MISSING", "Config", "Loader", "build_loader"]

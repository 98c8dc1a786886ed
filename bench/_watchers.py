"""One watcher in its own process, for bench_detect and bench_idle.

    python bench/_watchers.py KIND VOLUME_DIR [--expect SEQ]

Watches ``VOLUME_DIR/app.yaml`` (a ConfigMap-style volume holding ``seq: N`` and ``check: N``)
the way a user of KIND would, and records, for each new value, the sequence number and
``time.monotonic_ns()`` taken the moment the parsed value is in hand. Protocol on stdout:
``ready`` once watching, ``done`` when the value with ``seq == SEQ`` arrives, and after stdin
closes, ``result {json}``. The main thread sleeps in ``read(stdin)`` meanwhile, so the process
wakes only for what the watcher itself does.

The alternatives all use the same handler: read the file through its user-visible link, parse
it with the same YAML loader kubereload uses, and deliver it when it differs from the last value
delivered (what any real user of them writes; kubereload does the same comparison inside).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

KINDS = (
    "kubereload",
    "raw-inotify",
    "watchfiles-step1",
    "watchfiles-default",
    "watchdog",
    "poll-1s",
)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FLOOR = "raw-inotify"  # a reference for detection latency, not a library to compare
BASELINE = "no watch (baseline)"
WARMUP = "bench-warmup"


class Recorder:
    """Counts what the watcher saw; ``deliver`` is the user's callback holding the new value."""

    def __init__(self, expect: int | None) -> None:
        self.expect = expect
        self.deliveries: list[tuple[int, int]] = []
        self.reads = 0
        self.torn = 0
        self.errors = 0
        self.woken = threading.Event()
        self._last: Any = None

    def deliver(self, value: Any) -> None:
        now = time.monotonic_ns()
        if not isinstance(value, dict) or value.get("seq") != value.get("check"):
            self.torn += 1
            return
        self.deliveries.append((value["seq"], now))
        if value["seq"] == self.expect:
            print("done", flush=True)

    def reload(self, path: Path) -> None:
        """What a watchdog/watchfiles/polling user does on a wake-up: read, parse, compare."""
        self.reads += 1
        try:
            value = yaml.load(path.read_bytes(), Loader=LOADER)  # a SafeLoader
        except (OSError, yaml.YAMLError):
            self.errors += 1
            return
        if value != self._last:
            self._last = value
            self.deliver(value)

    def result(self) -> dict[str, Any]:
        return {
            "deliveries": self.deliveries,
            "reads": self.reads,
            "torn": self.torn,
            "errors": self.errors,
        }


def watch_kubereload(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
    import importlib

    import kubereload

    # kubereload.watch is the function; its detector module is reached by name.
    detector: Any = importlib.import_module("kubereload.watch.detector")

    read_snapshot = detector.read_snapshot

    def counted(source: Path) -> Any:  # count kubereload's own reads, like the others'
        rec.reads += 1
        return read_snapshot(source)

    detector.read_snapshot = counted
    config = kubereload.watch(volume / "app.yaml")
    config.on_change(lambda _old, new: rec.deliver(new))
    return config.close


def watch_watchdog(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    path = volume / "app.yaml"

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            rec.woken.set()
            rec.reload(path)

    observer = Observer()
    observer.schedule(Handler(), str(volume), recursive=False)
    observer.start()

    def close() -> None:
        observer.stop()
        observer.join()

    return close


def watch_watchfiles(step: int | None) -> Callable[..., Callable[[], None]]:
    def start(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
        import watchfiles

        path = volume / "app.yaml"
        options: dict[str, Any] = {} if step is None else {"step": step}

        def run() -> None:
            for _changes in watchfiles.watch(volume, stop_event=stop, **options):
                rec.woken.set()
                rec.reload(path)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return lambda: thread.join(timeout=10)

    return start


def watch_poll(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
    path = volume / "app.yaml"

    def run() -> None:
        rec.reload(path)
        rec.woken.set()
        while not stop.wait(1.0):
            rec.reload(path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lambda: thread.join(timeout=10)


def watch_raw_inotify(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
    """The floor: a hand-written inotify loop that reads and parses on each ``..data`` swap.

    Nothing but the kernel event, one read and one parse: no consistency check, no event
    filtering beyond the one rename, no re-arming. Uses kubereload's ctypes inotify binding only
    because the stdlib has none.
    """
    import os
    import select

    from kubereload.watch.inotify import IN_MOVED_TO, Inotify

    inotify = Inotify()
    inotify.add_watch(str(volume), IN_MOVED_TO)
    wake_r, wake_w = os.pipe()
    path = volume / "app.yaml"

    def run() -> None:
        poller = select.poll()
        poller.register(inotify.fileno(), select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        while not stop.is_set():
            poller.poll()
            if any(event.name == "..data" for event in inotify.read()):
                rec.reload(path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def close() -> None:
        os.write(wake_w, b"x")
        thread.join(timeout=10)
        inotify.close()

    return close


def watch_nothing(volume: Path, rec: Recorder, stop: threading.Event) -> Callable[[], None]:
    """The baseline: the same interpreter with PyYAML loaded, and no watch at all."""
    rec.woken.set()
    return lambda: None


STARTERS: dict[str, Callable[[Path, Recorder, threading.Event], Callable[[], None]]] = {
    BASELINE: watch_nothing,
    "kubereload": watch_kubereload,
    "watchfiles-step1": watch_watchfiles(1),
    "watchfiles-default": watch_watchfiles(None),
    "watchdog": watch_watchdog,
    "poll-1s": watch_poll,
    FLOOR: watch_raw_inotify,
}


def warm_up(volume: Path, rec: Recorder) -> None:
    """Touch a file beside the config until the watcher reacts: then it is surely armed.

    watchdog and watchfiles arm their watches on their own threads, so returning from their
    start-up calls does not mean they watch yet. The counters start afresh afterwards.
    """
    marker = volume / WARMUP
    deadline = time.monotonic() + 30
    while not rec.woken.wait(0.05):
        if time.monotonic() > deadline:
            raise SystemExit("watcher never reacted to the warm-up file")
        marker.write_text(str(time.monotonic_ns()))
    time.sleep(0.3)  # let a batch the last touches started arrive before counting
    rec.reads = rec.torn = rec.errors = 0
    rec.deliveries.clear()


def main() -> None:
    kind, volume = sys.argv[1], Path(sys.argv[2])
    expect = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--expect" else None
    rec = Recorder(expect)
    stop = threading.Event()
    close = STARTERS[kind](volume, rec, stop)
    if kind not in ("kubereload", FLOOR, BASELINE):
        warm_up(volume, rec)
    print("ready", flush=True)
    sys.stdin.read()  # sleep until the bench closes our stdin
    stop.set()
    close()
    print("result " + json.dumps(rec.result()), flush=True)


if __name__ == "__main__":
    main()

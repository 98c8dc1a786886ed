"""Running informers: their state as health checks and metrics, ready once all have synced, and
the memory of the first full sync given back."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from kubereload.kube.informer import Informer
from kubereload.server import HealthRegistry, Registry

log = logging.getLogger(__name__)
REFRESH = 5.0  # seconds between metric refreshes; also the event loop's liveness heartbeat
STUCK = 30.0  # the loop is declared stuck when the heartbeat is older than this


def stop_on_signals() -> asyncio.Event:
    """An event the running loop sets on SIGTERM or SIGINT: how a service is asked to stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


class InformerStatus:
    """Publishes ``informer_*`` metrics (label ``source``, the informer's description) and two
    checks: ready when every informer has listed once, live while the event loop turns."""

    def __init__(
        self, informers: Sequence[Informer[Any]], registry: Registry, health: HealthRegistry
    ) -> None:
        self.informers = list(informers)
        self._counted: dict[str, tuple[int, int]] = {}
        self._beat = time.monotonic()
        labels = ["source"]
        self.synced = registry.gauge("informer_synced", "1 once the first list is done.", labels)
        self.connected = registry.gauge(
            "informer_watch_connected", "1 while a watch is open.", labels
        )
        self.objects = registry.gauge("informer_objects", "Objects known.", labels)
        self.last_event = registry.gauge(
            "informer_last_event_timestamp_seconds",
            "Unix time of the last watch event or bookmark.",
            labels,
        )
        self.reconnects = registry.counter(
            "informer_reconnects_total", "Watches resumed after an error or a stall.", labels
        )
        self.relists = registry.counter(
            "informer_relists_total", "Full lists after the first (410 Gone).", labels
        )
        health.add_probe("ready", "informers", self._unsynced)
        health.add_probe("live", "event-loop", self._stuck)
        self.refresh()

    def _unsynced(self) -> str | None:
        waiting = [i.name for i in self.informers if not i.state.synced]
        return f"not synced yet: {', '.join(waiting)}" if waiting else None

    def _stuck(self) -> str | None:
        age = time.monotonic() - self._beat
        return f"event loop blocked for {age:.0f} s" if age > STUCK else None

    def refresh(self) -> None:
        self._beat = time.monotonic()
        for informer in self.informers:
            state, source = informer.state, informer.name
            self.synced.set(1 if state.synced else 0, source=source)
            self.connected.set(1 if state.connected else 0, source=source)
            self.objects.set(state.objects, source=source)
            self.last_event.set(state.last_event or 0, source=source)
            reconnects, relists = self._counted.get(source, (0, 0))
            self.reconnects.inc(state.reconnects - reconnects, source=source)
            self.relists.inc(state.relists - relists, source=source)
            self._counted[source] = (state.reconnects, state.relists)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REFRESH)
            self.refresh()


async def all_synced(informers: Sequence[Informer[Any]]) -> None:
    """Return once every informer has listed once."""
    await asyncio.gather(*(informer.synced.wait() for informer in informers))


async def run_informers(
    informers: Sequence[Informer[Any]],
    status: InformerStatus,
    helpers: Sequence[tuple[str, Coroutine[Any, Any, None]]],
    stop: asyncio.Event,
    on_synced: Callable[[], None],
) -> int:
    """Run the informers, their status and the caller's helper coroutines until ``stop`` is set.

    ``on_synced`` runs once, when every informer has listed. Returns 0 when stopped, 1 when a
    task died of a bug (logged with its traceback); every task is cancelled on the way out.
    """
    tasks = [asyncio.create_task(i.run(), name=i.name) for i in informers]
    tasks.append(asyncio.create_task(status.run(), name="status"))
    tasks += [asyncio.create_task(coro, name=name) for name, coro in helpers]
    stopping = asyncio.create_task(stop.wait())
    synced = asyncio.create_task(all_synced(informers))
    watched: set[asyncio.Task[Any]] = {stopping, synced, *tasks}
    code = 0
    try:
        while not stopping.done():
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if synced in done:
                watched.discard(synced)
                on_synced()
                status.refresh()
            crashed = [t for t in done if t in tasks]
            for task in crashed:
                log.error("%s stopped", task.get_name(), exc_info=task.exception())
                code = 1
            if crashed:
                break
        if stopping.done():
            log.info("stop requested: exiting")
    finally:
        for task in [*tasks, synced, stopping]:
            task.cancel()
        await asyncio.gather(*tasks, synced, stopping, return_exceptions=True)
    return code


def release_memory() -> None:
    """Give the memory of the first full sync (decoded list pages) back to the system.

    Listing thousands of objects leaves freed blocks in the C heap that glibc keeps; after the
    first sync the process only holds digests, so ``malloc_trim`` lowers RSS for good (about
    3 MB with 2 000 ConfigMaps). Elsewhere than glibc this does nothing.
    """
    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is not None:
        trim(0)

"""A sync running on its own thread and event loop: the API as the source of ``run``.

``kubereload run --configmap NS/NAME --dir DIR -- CMD`` writes the object into DIR with this,
waits for the first sync before starting CMD, and lets run's own directory watcher see the
swaps and reload the child: one pipeline, no second copy of "detect, validate, notify".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from kubereload.kube.config import Cluster, async_client
from kubereload.kube.status import all_synced, release_memory
from kubereload.sync.runner import make_informers, retry_writes
from kubereload.sync.selection import Selection, plan
from kubereload.sync.writer import SyncWriter, WriterOptions

log = logging.getLogger(__name__)


class BackgroundSync:
    """Keeps ``options.root`` in step with ``selections`` until :meth:`close`."""

    def __init__(
        self, config: Cluster, selections: list[Selection], options: WriterOptions
    ) -> None:
        self.config = config
        self.selections = selections
        self.writer = SyncWriter(options, lambda _source: None)
        self._synced = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._main: Future[None] | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubereload-sync", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """True once every object has been listed and written (False on timeout)."""
        return self._synced.wait(timeout)

    def close(self) -> None:
        if self._main is not None:
            stopped = asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop)
            stopped.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    @staticmethod
    async def _cancel_all() -> None:
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _run(self) -> None:
        async with async_client(self.config) as client:
            retry = asyncio.Event()
            informers = make_informers(client, self.selections, self.writer, retry=retry)
            tasks = [asyncio.create_task(i.run()) for i in informers]
            tasks.append(asyncio.create_task(retry_writes(self.writer, retry)))
            try:
                await all_synced(informers)
                self.writer.synced()
                release_memory()
                self._synced.set()
                await asyncio.gather(*tasks)
            except Exception:
                log.exception(
                    "syncing from the API stopped: %s is no longer updated",
                    self.writer.options.root,
                )
                raise
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


def start_api_sync(
    config: Cluster,
    *,
    configmaps: list[str],
    secrets: list[str],
    root: Path,
    timeout: float = 60.0,
) -> BackgroundSync:
    """Start syncing the named ConfigMaps/Secrets (``[NS/]NAME``) into ``root`` and wait for
    the first write. ValueError when a name is malformed or nothing was read in ``timeout``."""
    selections = plan(
        configmaps=configmaps,
        secrets=secrets,
        selector=None,
        kind="configmap",
        namespaces=[],
        all_namespaces=False,
        default_namespace=config.namespace,
    )
    options = WriterOptions(
        root=root,
        per_object=len(selections) > 1,
        with_kind=len({s.kind for s in selections}) > 1,
    )
    sync = BackgroundSync(config, selections, options)
    sync.start()
    if not sync.wait_synced(timeout):
        sync.close()
        raise ValueError(f"{config.server}: objects not read within {timeout:g} s")
    return sync

"""``sync`` as a service: informers writing into the directory until SIGTERM/SIGINT, the first
full sync written before any reload, and the informers' health and metrics reported."""

from __future__ import annotations

import asyncio
import logging

from kubereload.kube.config import Cluster, async_client
from kubereload.kube.informer import Informer
from kubereload.kube.status import InformerStatus, release_memory, run_informers, stop_on_signals
from kubereload.server import HealthRegistry, Registry
from kubereload.sync.objects import ObjectFiles
from kubereload.sync.runner import ChangeGate, make_informers, retry_writes
from kubereload.sync.selection import Selection
from kubereload.sync.writer import SyncWriter

log = logging.getLogger(__name__)


async def serve(
    config: Cluster,
    *,
    selections: list[Selection],
    writer: SyncWriter,
    gate: ChangeGate,
    registry: Registry,
    health: HealthRegistry,
    stall_timeout: float = 60.0,
    initial_reload: bool = False,
) -> int:
    """Run the informers until SIGTERM/SIGINT; 1 if one of them died of a bug."""
    stop = stop_on_signals()
    async with async_client(config) as client:
        retry = asyncio.Event()
        informers = make_informers(
            client, selections, writer, stall_timeout=stall_timeout, retry=retry
        )
        status = InformerStatus(informers, registry, health)
        return await run_informers(
            informers,
            status,
            [("write retries", retry_writes(writer, retry))],
            stop,
            lambda: _synced(informers, writer, selections, gate, initial_reload),
        )


def _synced(
    informers: list[Informer[ObjectFiles]],
    writer: SyncWriter,
    selections: list[Selection],
    gate: ChangeGate,
    initial_reload: bool,
) -> None:
    count = sum(len(i) for i in informers)
    writer.synced()
    release_memory()
    log.info("first sync done: %d objects, %d written", count, writer.writes)
    for informer, selection in zip(informers, selections, strict=True):
        if selection.name and not len(informer):
            log.warning("%s does not exist (yet): written when it appears", selection.describe())
    gate.open()
    if initial_reload:
        gate.changed("start-up")

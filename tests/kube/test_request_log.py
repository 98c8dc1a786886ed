"""httpx2 logs every request at INFO; a controller renewing its Lease every 2 s would fill the log.
Those lines are DEBUG records: absent from an INFO log, present (as DEBUG) in a DEBUG one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from kubereload.kube.config import Cluster, async_client
from kubereload.kube.resources import CONFIGMAPS


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)  # as logging.basicConfig's handler: no level of its own
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_handler() -> Iterator[Capture]:
    root = logging.getLogger()
    handler, level = Capture(), root.level
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _one_request(cluster: Cluster) -> None:
    async def go() -> None:
        async with async_client(cluster) as client:
            await client.list_body(CONFIGMAPS, "default", {})

    asyncio.run(go())


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_request_lines_only_in_a_debug_log(
    cluster_config: Cluster, root_handler: Capture, level: int
) -> None:
    logging.getLogger().setLevel(level)
    _one_request(cluster_config)
    lines = [r for r in root_handler.records if r.name.startswith("httpx")]
    if level == logging.INFO:
        assert lines == []
    else:
        assert lines
        assert {r.levelname for r in lines} == {"DEBUG"}

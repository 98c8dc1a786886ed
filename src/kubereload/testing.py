"""Helpers for your own tests: a simulated ConfigMap/Secret volume, updated as the kubelet does.

    from kubereload.testing import SimulatedVolume

    def test_reloads(tmp_path):
        with SimulatedVolume(tmp_path / "config", {"app.yaml": "level: info\\n"}) as volume:
            config = kubereload.watch(volume.path / "app.yaml")
            volume.set("app.yaml", "level: debug\\n")
            assert wait_for_version(config, volume.version)
            assert config.get() == {"level": "debug"}

Every update goes through :class:`~kubereload.volume.AtomicWriter`, the kubelet's own algorithm:
a new timestamped directory and one atomic swap of ``..data``, so code under test sees exactly
what it would see in a pod.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from kubereload.config import Config
from kubereload.volume import AtomicWriter
from kubereload.volume.atomic_writer import PayloadValue

__all__ = ["SimulatedVolume", "wait_for_version"]


class SimulatedVolume:
    """A directory laid out like a mounted ConfigMap or Secret volume.

    ``path`` is where the volume is (a new temporary directory when not given; removed again by
    ``cleanup()`` or on leaving a ``with`` block). ``files`` is the initial content.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        files: Mapping[str, PayloadValue] | None = None,
    ) -> None:
        self._owned = path is None
        self.path = Path(tempfile.mkdtemp(prefix="kubereload-volume-") if path is None else path)
        self._writer = AtomicWriter(self.path)
        self._payload: dict[str, PayloadValue] = {}
        if files is not None:
            self.update(files)

    @property
    def version(self) -> str | None:
        """The timestamped directory ``..data`` points at now (what ``Config.version`` reports)."""
        return self._writer.current_version()

    def update(self, files: Mapping[str, PayloadValue]) -> str | None:
        """Replace the whole content, as when the ConfigMap's ``data`` is replaced.

        Returns the new version, or None when the content was equal and nothing was written
        (the kubelet skips equal payloads too).
        """
        version = self._writer.write(files)
        self._payload = dict(files)
        return version

    def set(self, key: str, value: PayloadValue) -> str | None:
        """Add or change one key, keeping the others."""
        return self.update({**self._payload, key: value})

    def remove(self, key: str) -> str | None:
        """Delete one key: its user-visible link disappears, as in a real volume."""
        payload = dict(self._payload)
        del payload[key]
        return self.update(payload)

    def files(self) -> dict[str, bytes]:
        """What a pod would read now, key by key."""
        return self._writer.read_payload()

    def cleanup(self) -> None:
        if self._owned:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> SimulatedVolume:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def wait_for_version(config: Config[Any], version: str | None, timeout: float = 5.0) -> bool:
    """Wait until ``config`` has taken ``version`` and run its callbacks, or rejected it.

    Returns True if it took it.
    A rejected version leaves ``config.version`` unchanged and sets ``config.error``; this returns
    as soon as either happens, so a test of a bad update does not wait for the timeout.
    """
    if version is None:
        return True

    def settled(c: Config[Any]) -> bool:
        taken = c.delivered_version == version
        return taken or (c.error is not None and c.error.version == version)

    config.wait_until(settled, timeout)
    return config.delivered_version == version

"""Turns informer events into directories in the kubelet's layout, one AtomicWriter each."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubereload.kube.data import DataKind, invalid_base64
from kubereload.kube.informer import Key
from kubereload.sync.naming import subdirectory
from kubereload.sync.objects import ObjectFiles
from kubereload.sync.project import project
from kubereload.volume import AtomicWriter

logger = logging.getLogger(__name__)

ON_DELETE = ("keep", "remove")


@dataclass(frozen=True)
class WriterOptions:
    root: Path
    per_object: bool  # one subdirectory per object (else the object's keys go in root)
    with_kind: bool = False  # subdirectory names carry the kind (both kinds synced)
    items: Mapping[str, str] | None = None
    mode: int = 0o644
    on_delete: str = "keep"


class SyncWriter:
    """Writes each object's files atomically; reports every real change to ``on_change``.

    ``on_change(source)`` gets e.g. ``"configmap default/app"`` after a write that changed the
    files on disk (an update that leaves the files equal writes nothing and reports nothing).
    Errors are logged with the object and the path, never with a value.
    """

    def __init__(self, options: WriterOptions, on_change: Callable[[str], None]) -> None:
        self.options = options
        self.on_change = on_change
        self.refused: dict[tuple[DataKind, Key], tuple[str, ...]] = {}  # only objects with some
        self.failed: dict[tuple[DataKind, Key], ObjectFiles] = {}  # writes to retry (disk errors)
        self.not_written: dict[tuple[DataKind, Key], str] = {}  # objects written not at all, why
        self.writes = 0
        self.errors = 0
        # Until the first full sync is done, each write is logged at debug level only: a
        # selector over thousands of objects then logs one summary line, not thousands.
        self._write_level = logging.DEBUG

    def synced(self) -> None:
        """The first full sync is written: from now on every write is logged (info)."""
        self._write_level = logging.INFO

    def target(self, kind: DataKind, key: Key) -> Path:
        if not self.options.per_object:
            return self.options.root
        namespace, name = key
        return self.options.root / subdirectory(
            kind, namespace, name, with_kind=self.options.with_kind
        )

    def write(self, kind: DataKind, key: Key, obj: ObjectFiles) -> bool:
        """Write one object's files; returns whether anything on disk changed.

        Once written (or refused for good) the object's bytes are released: only its digest
        stays in memory. A disk error keeps them in ``failed`` for :meth:`retry_failed`.
        """
        label = f"{kind.label} {key[0]}/{key[1]}"
        self.failed.pop((kind, key), None)
        self.not_written.pop((kind, key), None)
        try:
            target = self.target(kind, key)
            if target.is_symlink():
                raise ValueError(f"{target} is a symlink: refusing to write through it")
            options = self.options
            projection = project(obj.files, target, items=options.items, mode=options.mode)
            refused = projection.refused + tuple(invalid_base64(k) for k in obj.undecodable)
            if refused != self.refused.get((kind, key), ()):
                for reason in refused:
                    logger.error("%s: refused %s; its other keys are written", label, reason)
            if refused:
                self.refused[(kind, key)] = refused
            else:
                self.refused.pop((kind, key), None)
            version = AtomicWriter(target).write(projection.payload)
        except OSError as err:
            self.errors += 1
            self.failed[(kind, key)] = obj
            self.not_written[(kind, key)] = "could not write its files"
            logger.error("%s: could not write its files (will retry): %s", label, err)
            return False
        except ValueError as err:
            self.errors += 1
            obj.release()
            self.not_written[(kind, key)] = "not written"
            logger.error("%s: not written: %s", label, err)
            return False
        obj.release()
        if version is None:
            return False
        self.writes += 1
        count = len(projection.payload)
        logger.log(
            self._write_level,
            "%s: wrote %d files to %s (%s)",
            label,
            count,
            target,
            version,
            extra={"event": "write", "object": label, "version": version},
        )
        self.on_change(label)
        return True

    def unwritten(self) -> list[str]:
        """What the last writes left out, one line each: objects not written, keys refused."""
        lines = [
            f"{kind.label} {ns}/{name}: {why}"
            for (kind, (ns, name)), why in self.not_written.items()
        ]
        for (kind, (ns, name)), reasons in self.refused.items():
            lines.extend(f"{kind.label} {ns}/{name}: refused {reason}" for reason in reasons)
        return lines

    def retry_failed(self) -> None:
        for (kind, key), obj in list(self.failed.items()):
            self.write(kind, key, obj)

    def delete(self, kind: DataKind, key: Key) -> None:
        label = f"{kind.label} {key[0]}/{key[1]}"
        self.refused.pop((kind, key), None)
        self.failed.pop((kind, key), None)
        self.not_written.pop((kind, key), None)
        try:
            target = self.target(kind, key)
        except ValueError as err:
            logger.error("%s: deleted; %s", label, err)
            return
        if self.options.on_delete == "keep":
            logger.warning("%s was deleted; kept its files in %s (--on-delete keep)", label, target)
            return
        if target.is_symlink() or not target.is_dir():
            return
        try:
            # One atomic swap to an empty version first: readers never see a half-removed set.
            AtomicWriter(target).write({})
            if self.options.per_object:
                shutil.rmtree(target)
        except OSError as err:
            self.errors += 1
            logger.error("%s: deleted, but removing %s failed: %s", label, target, err)
            return
        logger.warning("%s was deleted; removed %s (--on-delete remove)", label, target)
        self.on_change(label)

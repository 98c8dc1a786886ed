"""The kubelet's AtomicWriter, in Python: how ConfigMap and Secret volumes are updated.

Every update lands in a fresh ``..YYYY_MM_DD_HH_MM_SS.<digits>`` directory, and one rename of the
``..data_tmp`` symlink onto ``..data`` makes it visible: readers that resolve ``..data`` once see
either the old version or the new one, never a mix. ``kubereload sync`` writes with this, and the
tests and :mod:`kubereload.testing` drive the same algorithm the kubelet runs
(pkg/volume/util/atomic_writer.go).
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubereload.volume.paths import validate_path

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
DEFAULT_FILE_MODE = 0o644


@dataclass(frozen=True)
class FileProjection:
    """One file of a payload: its bytes and permission bits."""

    data: bytes
    mode: int = DEFAULT_FILE_MODE


PayloadValue = bytes | str | FileProjection
Payload = Mapping[str, PayloadValue]


def _projection(value: PayloadValue) -> FileProjection:
    if isinstance(value, FileProjection):
        return value
    if isinstance(value, str):
        return FileProjection(value.encode())
    return FileProjection(bytes(value))


def _all_prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class AtomicWriter:
    """Writes whole payloads into ``target_dir`` exactly as the kubelet does.

    ``write`` takes the complete desired content (relative path -> bytes/str/FileProjection) and
    returns the name of the timestamped directory now behind ``..data``, or ``None`` when the
    payload equalled what was there and nothing was written.
    """

    def __init__(self, target_dir: str | os.PathLike[str]) -> None:
        self.target_dir = Path(target_dir)

    def current_version(self) -> str | None:
        """The timestamped directory ``..data`` points at, or None before the first write."""
        try:
            return os.readlink(self.target_dir / DATA_DIR)
        except FileNotFoundError:
            return None

    def read_payload(self) -> dict[str, bytes]:
        """The files behind ``..data`` now (empty before the first write)."""
        version = self.current_version()
        if version is None:
            return {}
        root = self.target_dir / version
        files: dict[str, bytes] = {}
        for dirpath, _dirnames, filenames in os.walk(root):
            for name in filenames:
                full = Path(dirpath) / name
                files[full.relative_to(root).as_posix()] = full.read_bytes()
        return files

    def write(self, payload: Payload) -> str | None:
        # (1) validate and clean every path before touching the disk.
        clean = {validate_path(path): _projection(value) for path, value in payload.items()}
        self.target_dir.mkdir(parents=True, exist_ok=True)

        # (2) what is there now.
        old_version = self.current_version()
        paths_to_remove: set[str] = set()
        if old_version is not None:
            old_root = self.target_dir / old_version
            # (3) user-visible paths that the new payload no longer has.
            paths_to_remove = self._paths_to_remove(clean, old_root)
            # (4) an equal payload writes no new version. A user-visible link that went
            # missing is put back beside the current one (the v1.24 kubelet leaves it missing;
            # a new version of equal content would only make readers reload for nothing).
            if not paths_to_remove and not self._content_differs(clean, old_root):
                self._create_user_visible_links(clean)
                return None

        # (5) a fresh timestamped directory with the whole payload in it.
        new_dir = self._new_timestamp_dir()
        try:
            self._write_payload(clean, new_dir)
            # (6) the one atomic step: ..data_tmp -> new dir, renamed onto ..data.
            tmp_link = self.target_dir / DATA_DIR_TMP
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(new_dir.name, tmp_link)
            os.rename(tmp_link, self.target_dir / DATA_DIR)
        except BaseException:
            (self.target_dir / DATA_DIR_TMP).unlink(missing_ok=True)
            shutil.rmtree(new_dir, ignore_errors=True)
            raise

        # (7) user-visible links for new top-level entries.
        self._create_user_visible_links(clean)
        # (8) user-visible paths gone from the payload, then the old directory.
        for path in paths_to_remove:
            if "/" not in path:
                (self.target_dir / path).unlink(missing_ok=True)
        if old_version is not None:
            shutil.rmtree(self.target_dir / old_version, ignore_errors=True)
        return new_dir.name

    def _new_timestamp_dir(self) -> Path:
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        while True:
            # Go's os.MkdirTemp appends a random uint32 in decimal (1 to 10 digits).
            candidate = self.target_dir / f"{stamp}{random.randrange(2**32)}"
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            # 0755 whatever the umask, as the kubelet: readers run as other users.
            os.chmod(candidate, 0o755)  # noqa: S103
            return candidate

    @staticmethod
    def _write_payload(payload: Mapping[str, FileProjection], root: Path) -> None:
        for path, projection in payload.items():
            full = root / path
            full.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, projection.mode
            )
            try:
                view = memoryview(projection.data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                os.close(fd)
            os.chmod(full, projection.mode)

    @staticmethod
    def _content_differs(payload: Mapping[str, FileProjection], old_root: Path) -> bool:
        for path, projection in payload.items():
            try:
                if (old_root / path).read_bytes() != projection.data:
                    return True
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return True
        return False

    @staticmethod
    def _paths_to_remove(payload: Mapping[str, FileProjection], old_root: Path) -> set[str]:
        old: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(old_root):
            rel = Path(dirpath).relative_to(old_root)
            for name in [*dirnames, *filenames]:
                old.add((rel / name).as_posix())
        new: set[str] = set()
        for path in payload:
            new.update(_all_prefixes(path))
        return old - new

    def _create_user_visible_links(self, payload: Mapping[str, FileProjection]) -> None:
        for top in {path.split("/")[0] for path in payload}:
            link = self.target_dir / top
            if not link.is_symlink() and not link.exists():
                os.symlink(f"{DATA_DIR}/{top}", link)

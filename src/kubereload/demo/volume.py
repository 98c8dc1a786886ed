"""The demo's config: a simulated ConfigMap volume on local disk, and changing it like the kubelet.

Without a cluster, ``kubereload demo`` serves from a directory written by
:class:`~kubereload.testing.SimulatedVolume` (the kubelet's AtomicWriter), kept at a well-known
place so ``kubereload demo set`` in another terminal finds it. Every change is a whole new version
behind one ``..data`` swap, exactly what a pod sees when its ConfigMap is edited.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kubereload.testing import SimulatedVolume
from kubereload.volume import DATA_DIR_NAME

CONFIG_FILE = "config.yaml"
INITIAL_CONFIG: dict[str, Any] = {"message": "Hello from a simulated ConfigMap"}


class DemoVolumeError(Exception):
    """The demo's volume cannot be used: the message says what is wrong and what to do."""


def default_dir() -> Path:
    """Where the simulated volume lives: one per user, under ``$TMPDIR`` (usually /tmp).

    Called only when the simulated volume is used: in a pod with a read-only root file system
    there is no temporary directory, and ``--config-dir`` must not need one.
    """
    return Path(tempfile.gettempdir()) / f"kubereload-demo-{os.getuid()}"


def is_kubelet_volume(path: Path) -> bool:
    """True when ``path`` is laid out like a ConfigMap volume (a ``..data`` symlink)."""
    return (path / DATA_DIR_NAME).is_symlink()


def dump(config: Mapping[str, Any]) -> bytes:
    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True).encode()


def open_or_create(path: Path) -> bool:
    """Make sure the simulated volume at ``path`` exists and has a ``config.yaml``.

    Returns whether it was created now. A directory that another user owns, or
    that is not a kubelet-style volume, is refused rather than written into.
    """
    try:
        path.mkdir(mode=0o700)
        created = True
    except FileExistsError:
        created = False
        check_owned(path)
    volume = SimulatedVolume(path)
    files = volume.files()
    if CONFIG_FILE not in files:
        volume.update({**files, CONFIG_FILE: dump(INITIAL_CONFIG)})
    return created


def check_owned(path: Path) -> None:
    """Refuse a well-known temp path that is a link, another user's, or not a volume.

    Anyone can create a name under /tmp first; the demo only writes into a directory of its own.
    """
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise DemoVolumeError(f"{path} exists and is not a directory; remove it and start again")
    if info.st_uid != os.getuid():
        raise DemoVolumeError(f"{path} belongs to another user; pass --config-dir to use another")
    if any(path.iterdir()) and not is_kubelet_volume(path):
        raise DemoVolumeError(
            f"{path} is not a simulated ConfigMap volume (no {DATA_DIR_NAME} link); "
            "remove it, or pass --config-dir"
        )


def open_for_update(path: Path) -> SimulatedVolume:
    """An existing kubelet-style volume that we may write, for ``kubereload demo set``."""
    if not path.is_dir():
        raise DemoVolumeError(
            f"no demo volume at {path}: start `kubereload demo` first, or pass --config-dir"
        )
    if not is_kubelet_volume(path):
        raise DemoVolumeError(
            f"{path} is not a kubelet-style volume (no {DATA_DIR_NAME} link): `set` writes only "
            f"through the kubelet's AtomicWriter; edit {path / CONFIG_FILE} directly instead"
        )
    if not os.access(path, os.W_OK):
        raise DemoVolumeError(
            f"{path} is read-only: it is a real mounted ConfigMap; change it with kubectl "
            "(see deploy/demo/README.md)"
        )
    return SimulatedVolume(path)


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, each value read as YAML (``port=8080`` is a number, ``a=b`` text)."""
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DemoVolumeError(f"expected KEY=VALUE, got {item!r}")
        try:
            values[key] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            values[key] = raw  # not YAML on its own (e.g. "[oops"): keep it as text
    return values


def current_config(volume: SimulatedVolume) -> tuple[dict[str, Any], str | None]:
    """``config.yaml`` as a mapping, and why it could not be read as one (None when fine)."""
    raw = volume.files().get(CONFIG_FILE)
    if raw is None:
        return {}, f"{CONFIG_FILE} is missing"
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        return {}, f"{CONFIG_FILE} is not valid YAML ({type(exc).__name__})"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, f"{CONFIG_FILE} is not a mapping"
    return data, None


def reset(volume: SimulatedVolume) -> str | None:
    """Write the demo's first ``config.yaml`` as a new version (None when it already is)."""
    try:
        return volume.update({**volume.files(), CONFIG_FILE: dump(INITIAL_CONFIG)})
    except OSError as exc:
        raise DemoVolumeError(f"cannot write {volume.path}: {exc.strerror or exc}") from None


def set_keys(volume: SimulatedVolume, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Write ``config.yaml`` with ``values`` merged in, as one new version of the volume.

    Returns the new version (None when nothing changed: the kubelet skips equal payloads too)
    and, when the old ``config.yaml`` could not be merged into, why it was replaced instead.
    """
    config, problem = current_config(volume)
    config.update(values)
    try:
        version = volume.update({**volume.files(), CONFIG_FILE: dump(config)})
    except OSError as exc:
        raise DemoVolumeError(f"cannot write {volume.path}: {exc.strerror or exc}") from None
    return version, problem

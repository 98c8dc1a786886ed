"""Recognising what a path is: a kubelet volume, a plain directory or file, or a subPath mount."""

from __future__ import annotations

import enum
import os
import stat
from pathlib import Path

from kubereload.volume.atomic_writer import DATA_DIR

MOUNTINFO = Path("/proc/self/mountinfo")
# File systems where inotify sees only local changes, or none: poll instead.
REMOTE_FS_TYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "ceph", "glusterfs", "lustre"}
)


class Layout(enum.Enum):
    KUBELET = "kubelet"
    """A ConfigMap/Secret/projected volume: user-visible links into ``..data``."""
    DIRECTORY = "directory"
    """A plain directory of files (a dev machine, a hand-made mount)."""
    FILE = "file"
    """A plain file."""
    SUBPATH = "subpath"
    """A ``subPath`` mount: a bind mount of one file, which the kubelet never updates."""
    OBJECT = "object"
    """A ConfigMap or Secret read from the API server: its keys, no files on disk."""


def subpath_warning(path: object) -> str:
    """What to tell whoever watches a subPath mount: why it never changes, and the fix. One
    wording for the library and the sidecars."""
    return (
        f"{path} is mounted with subPath: a subPath mount is a bind mount of one file, and "
        "the kubelet never updates it in place, so changes to the ConfigMap or Secret "
        "will not reach this process. Mount the whole volume (no subPath) and point "
        "kubereload at the file inside that directory."
    )


def _unescape_mountinfo(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 0 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts(mountinfo: Path) -> list[tuple[str, str]]:
    """(mount point, file system type) for every mount this process sees."""
    try:
        text = mountinfo.read_text()
    except OSError:
        return []
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fs_type = line.split(" - ", 1)[1].split()[0]
        mounts.append((_unescape_mountinfo(fields[4]), fs_type))
    return mounts


def is_mount_point(path: Path, mountinfo: Path = MOUNTINFO) -> bool:
    real = os.path.realpath(path)
    return any(point == real for point, _ in _mounts(mountinfo))


def filesystem_type(path: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """The type of the file system ``path`` lives on: the longest mount point above it."""
    real = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for point, fs_type in _mounts(mountinfo):
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > best[0]):
            best = (len(point), fs_type)
    return best[1] if best else None


def is_remote(path: Path, mountinfo: Path = MOUNTINFO) -> bool:
    return filesystem_type(path, mountinfo) in REMOTE_FS_TYPES


def detect_layout(path: Path, mountinfo: Path = MOUNTINFO) -> Layout:
    """What ``path`` is now. Raises FileNotFoundError when it does not exist.

    Called on every read, so it sticks to a few plain system calls.
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        return Layout.KUBELET if os.path.islink(name + "/" + DATA_DIR) else Layout.DIRECTORY
    is_link = os.path.islink(name)
    if (st is None or is_link) and os.path.islink(os.path.join(os.path.dirname(name), DATA_DIR)):
        # A key of a kubelet volume is read through ..data: its user-visible link is created
        # only after the swap, so a new key exists behind ..data before it exists here.
        return Layout.KUBELET
    if st is None:
        raise FileNotFoundError(f"{path} does not exist")
    if not is_link and is_mount_point(path, mountinfo):
        return Layout.SUBPATH
    return Layout.FILE

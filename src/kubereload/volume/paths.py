"""Validation of the relative paths a ConfigMap or Secret key may be written to.

The rules are the kubelet's own (AtomicWriter's validatePath), so that what kubereload
accepts is exactly what a real volume accepts, and no key can escape its directory.
"""

from __future__ import annotations

import posixpath

MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


class UnsafePathError(ValueError):
    """A payload path that the kubelet would refuse: it could escape the target directory."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"invalid path {path!r}: {reason}")
        self.path = path
        self.reason = reason


def printable(name: str) -> str:
    """``name`` fit for one log line: control characters escaped (a newline in a file name of
    a hostile volume could otherwise forge a log line of its own)."""
    if name.isprintable():
        return name
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in name)


def validate_path(path: str) -> str:
    """Return the cleaned form of ``path``, or raise :class:`UnsafePathError`."""
    if path == "":
        raise UnsafePathError(path, "must not be empty")
    if "\x00" in path:
        raise UnsafePathError(path, "must not contain a NUL byte")
    if posixpath.isabs(path):
        raise UnsafePathError(path, "must be a relative path")
    if len(path) > MAX_PATH_LENGTH:
        raise UnsafePathError(path, f"must be at most {MAX_PATH_LENGTH} characters")
    items = path.split("/")
    for item in items:
        if item == "..":
            raise UnsafePathError(path, "must not contain '..'")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise UnsafePathError(
                path, f"file names must be at most {MAX_FILE_NAME_LENGTH} characters"
            )
    if items[0].startswith("..") and len(items[0]) > 2:
        raise UnsafePathError(path, "must not start with '..'")
    cleaned = posixpath.normpath(path)
    if cleaned in (".", "") or cleaned.startswith("../"):
        raise UnsafePathError(path, "must name a file inside the directory")
    return cleaned

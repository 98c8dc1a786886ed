"""Mounted volumes: their layout, consistent snapshots, and the kubelet's AtomicWriter."""

from kubereload.volume.atomic_writer import DATA_DIR as DATA_DIR_NAME
from kubereload.volume.atomic_writer import AtomicWriter, FileProjection
from kubereload.volume.layout import Layout, detect_layout
from kubereload.volume.paths import UnsafePathError, validate_path
from kubereload.volume.snapshot import ReadLimits, Snapshot, SnapshotError, read_snapshot

__all__ = [
    "DATA_DIR_NAME",
    "AtomicWriter",
    "FileProjection",
    "Layout",
    "ReadLimits",
    "Snapshot",
    "SnapshotError",
    "UnsafePathError",
    "detect_layout",
    "read_snapshot",
    "validate_path",
]

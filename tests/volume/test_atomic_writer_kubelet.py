"""Our AtomicWriter beside the kubelet's own (kubelet-atomicwriter, KUBEBUILDER_ASSETS), and the
library's detection driven by the kubelet's writer.

Same payloads into two directories: the same layout (names, symlinks, modes, contents), the same
steps seen by a reader watching the directory (inotify), and the same verdict on "nothing to
write". Timestamped names are compared by shape, and the order of the user-visible links made in
one step is not compared (the kubelet walks a Go map: its order is random).
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubereload
from kubereload.volume import AtomicWriter, read_snapshot
from kubereload.watch import inotify
from support.changes import Changes
from support.controlplane import ASSETS_ENV
from support.kubelet_writer import KubeletWriter, kubelet_writer_binary

TIMESTAMPED = re.compile(r"\.\.\d{4}(_\d{2}){5}\.\d{1,10}")
STEPS = (
    inotify.IN_CREATE
    | inotify.IN_DELETE
    | inotify.IN_MOVED_FROM
    | inotify.IN_MOVED_TO
    | inotify.IN_ATTRIB
    | inotify.IN_MODIFY
)
KINDS = {
    inotify.IN_CREATE: "create",
    inotify.IN_DELETE: "delete",
    inotify.IN_MOVED_FROM: "moved_from",
    inotify.IN_MOVED_TO: "moved_to",
    inotify.IN_ATTRIB: "attrib",
    inotify.IN_MODIFY: "modify",
}

PAYLOADS: list[dict[str, str]] = [
    {"a": "1", "dir/b": "2", "c": "3"},
    {"a": "1", "dir/b": "2", "c": "3"},  # equal: nothing written
    {"a": "1x", "dir/b": "2", "c": "3"},  # one key changes
    {"a": "1x", "dir/d": "4"},  # a key goes, a nested one is replaced
    {"a": "1x", "dir/e/f": "5"},  # deeper nesting
    {"a": "1x", "dir/e/f": "5", "z": "9"},  # a key is added
    {"b/x": "6"},  # every top-level entry replaced
    {},  # empty
    {"a": "7", ".hidden": "h", "-x": "y", "a..b": "z"},  # names the API server accepts
]


@pytest.fixture
def binary() -> Path:
    if os.environ.get(ASSETS_ENV) is None:
        pytest.skip(f"the kubelet's writer comes with {ASSETS_ENV} (.ci/run sets it)")
    found = kubelet_writer_binary()
    if found is None:
        pytest.fail(f"{ASSETS_ENV} is set, but has no kubelet-atomicwriter")
    return found


@pytest.fixture
def kubelet(binary: Path, tmp_path: Path) -> Iterator[KubeletWriter]:
    with KubeletWriter(tmp_path / "kubelet", binary) as writer:
        yield writer


def shape(name: str) -> str:
    return TIMESTAMPED.sub("..TIMESTAMP", name)


def layout(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under root, by shape of its path: a link's target, a dir's or file's mode
    (and a file's bytes). Links are not followed."""
    found: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            key = shape(path.relative_to(root).as_posix())
            if stat.S_ISLNK(st.st_mode):
                found[key] = ("link", shape(os.readlink(path)))
            elif stat.S_ISDIR(st.st_mode):
                found[key] = ("dir", oct(st.st_mode & 0o7777))
            else:
                found[key] = ("file", oct(st.st_mode & 0o7777), path.read_bytes())
    return found


class Steps:
    """What a reader watching the directory (not its subdirectories) sees, step by step."""

    def __init__(self, directory: Path) -> None:
        self._inotify = inotify.Inotify()
        self._inotify.add_watch(str(directory), STEPS)

    def take(self) -> list[tuple[str, str]]:
        seen = [
            (kind, shape(event.name))
            for event in self._inotify.read()
            for bit, kind in KINDS.items()
            if event.mask & bit
        ]
        # One step that makes or removes several user-visible links: compare them as a set.
        ordered: list[tuple[str, str]] = []
        for _key, run in itertools.groupby(seen, key=lambda s: (s[0], s[1].startswith(".."))):
            ordered.extend(sorted(run))
        return ordered

    def close(self) -> None:
        self._inotify.close()


def data_target(directory: Path) -> str | None:
    link = directory / "..data"
    return os.readlink(link) if os.path.lexists(link) else None


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_same_payloads_make_the_same_volume_in_the_same_steps(
    binary: Path, tmp_path: Path, umask: int
) -> None:
    theirs_dir, ours_dir = tmp_path / "kubelet", tmp_path / "ours"
    theirs_dir.mkdir()
    ours_dir.mkdir()
    previous = os.umask(umask)  # the kubelet writer inherits it when it starts
    try:
        with KubeletWriter(theirs_dir, binary) as theirs:
            ours = AtomicWriter(ours_dir)
            their_steps, our_steps = Steps(theirs_dir), Steps(ours_dir)
            try:
                for payload in PAYLOADS:
                    before = data_target(theirs_dir)
                    theirs.write(payload)
                    they_wrote = data_target(theirs_dir) != before
                    we_wrote = ours.write(payload) is not None
                    assert (we_wrote, layout(ours_dir)) == (they_wrote, layout(theirs_dir)), payload
                    assert our_steps.take() == their_steps.take(), payload
            finally:
                their_steps.close()
                our_steps.close()
    finally:
        os.umask(previous)


def test_an_equal_payload_writes_no_new_version_even_with_a_link_gone(
    kubelet: KubeletWriter, tmp_path: Path
) -> None:
    payload = {"a": "1", "n/m": "2"}
    ours = AtomicWriter(tmp_path / "ours")
    kubelet.write(payload)
    ours.write(payload)
    for directory in (kubelet.target, ours.target_dir):
        (directory / "a").unlink()
    their_version, our_version = data_target(kubelet.target), ours.current_version()
    kubelet.write(payload)
    assert ours.write(payload) is None
    assert data_target(kubelet.target) == their_version  # v1.24 leaves the link missing
    assert ours.current_version() == our_version  # we put it back, in the same version
    assert os.readlink(tmp_path / "ours" / "a") == "..data/a"
    assert not os.path.lexists(kubelet.target / "a")


def test_the_library_sees_each_kubelet_write_once_and_nothing_for_an_equal_one(
    kubelet: KubeletWriter,
) -> None:
    kubelet.write({"app.yaml": "n: 0\n", "other.txt": "x"})
    with kubereload.watch(kubelet.target) as config:
        changes = Changes()
        config.on_change(changes)
        for n in range(1, 21):
            kubelet.write({"app.yaml": f"n: {n}\n", "other.txt": "x"})
            kubelet.write({"app.yaml": f"n: {n}\n", "other.txt": "x"})  # equal: no write
            assert changes.wait_for(lambda v, n=n: len(v) >= n), f"write {n} never arrived"
        kubelet.write({"app.yaml": "n: 21\n", "conf/extra.yaml": "e: 1\n"})  # add and remove
        assert changes.wait_for(lambda v: len(v) >= 21)
        assert [v["app.yaml"]["n"] for v in changes.values] == list(range(1, 22))
        assert set(changes.values[-1]) == {"app.yaml", "conf/extra.yaml"}  # other.txt gone
        assert config.version == data_target(kubelet.target)


def test_a_watched_key_file_follows_the_kubelet_writes(kubelet: KubeletWriter) -> None:
    kubelet.write({"app.yaml": "n: 0\n"})
    with kubereload.watch(kubelet.target / "app.yaml") as config:
        changes = Changes()
        config.on_change(changes)
        for n in range(1, 11):
            kubelet.write({"app.yaml": f"n: {n}\n"})
            assert changes.wait_for(lambda v, n=n: len(v) >= n), f"write {n} never arrived"
        assert [v["n"] for v in changes.values] == list(range(1, 11))


def test_a_reader_never_sees_two_versions_mixed(kubelet: KubeletWriter) -> None:
    kubelet.write({"a": "0", "b": "0", "nested/c": "0"})
    stop = threading.Event()
    torn: list[dict[str, bytes]] = []
    reads = 0

    def read() -> None:
        nonlocal reads
        while not stop.is_set():
            files = dict(read_snapshot(kubelet.target).files)
            reads += 1
            if len({files["a"], files["b"], files["nested/c"]}) != 1:
                torn.append(files)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 201):
            kubelet.write({"a": str(n), "b": str(n), "nested/c": str(n)})
    finally:
        stop.set()
        reader.join()
    assert torn == [] and reads > 0

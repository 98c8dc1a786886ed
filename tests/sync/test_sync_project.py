"""Which keys become which files, and which are refused (and why), before anything is written."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kubereload.kube.data import DataKind
from kubereload.sync.naming import subdirectory
from kubereload.sync.objects import object_files
from kubereload.sync.project import parse_items, project
from kubereload.sync.selection import Selection, parse_ref, plan
from kubereload.volume import AtomicWriter


def test_object_files_are_the_decoded_keys_and_name_the_invalid_ones() -> None:
    obj = {"data": {"ok": base64.b64encode(b"s3cr3t").decode(), "bad": "%%%"}}
    files = object_files(DataKind.SECRET, obj)
    assert files.files == {"ok": b"s3cr3t"}
    assert files.undecodable == ("bad",)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "relative"),
        ("../escape", "'..'"),
        ("a/../../escape", "'..'"),
        ("..data", "start with '..'"),
    ],
)
def test_unsafe_paths_are_refused_and_other_keys_kept(
    tmp_path: Path, path: str, reason: str
) -> None:
    result = project({"good": b"1", "bad": b"2"}, tmp_path, items={"good": "good", "bad": path})
    assert list(result.payload) == ["good"]
    assert len(result.refused) == 1
    assert "'bad'" in result.refused[0] and reason in result.refused[0]


def test_a_symlink_in_the_target_dir_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(outside, target / "conf")
    result = project({"k": b"v", "other": b"x"}, target, items={"k": "conf/file", "other": "o"})
    assert list(result.payload) == ["o"]
    assert "symlink not written by kubereload" in result.refused[0]
    AtomicWriter(target).write(result.payload)
    assert list(outside.iterdir()) == []
    assert (target / "o").read_bytes() == b"x"


def test_our_own_links_are_fine_on_the_next_write(tmp_path: Path) -> None:
    first = project({"a": b"1"}, tmp_path)
    AtomicWriter(tmp_path).write(first.payload)
    second = project({"a": b"2"}, tmp_path)
    assert second.refused == ()
    AtomicWriter(tmp_path).write(second.payload)
    assert (tmp_path / "a").read_bytes() == b"2"


def test_file_and_directory_conflict_is_refused(tmp_path: Path) -> None:
    result = project({"x": b"1", "y": b"2"}, tmp_path, items={"x": "conf", "y": "conf/inner"})
    assert list(result.payload) == ["conf"]
    assert "both a file and a directory" in result.refused[0]


def test_items_remap_and_report_missing_keys(tmp_path: Path) -> None:
    result = project(
        {"a": b"1", "b": b"2"}, tmp_path, items={"a": "dir/a.conf", "zz": "z"}, mode=0o600
    )
    assert set(result.payload) == {"dir/a.conf"}
    assert result.payload["dir/a.conf"].mode == 0o600
    assert "'zz' named in --items is not in the object" in result.refused[0]


def test_parse_items() -> None:
    assert parse_items(["a=b/c", "x=y"]) == {"a": "b/c", "x": "y"}
    with pytest.raises(ValueError, match="KEY=PATH"):
        parse_items(["novalue"])


def test_subdirectory_names_are_unambiguous() -> None:
    assert subdirectory(DataKind.CONFIGMAP, "prod", "app.conf", with_kind=False) == "prod_app.conf"
    assert subdirectory(DataKind.SECRET, "prod", "app", with_kind=True) == "secret_prod_app"
    for bad in ("..", "a/b", "A", "x_y", ""):
        with pytest.raises(ValueError, match="not a DNS name"):
            subdirectory(DataKind.CONFIGMAP, "ns", bad, with_kind=False)


def test_plan_sources() -> None:
    common: dict[str, Any] = {
        "selector": None,
        "kind": "configmap",
        "namespaces": [],
        "all_namespaces": False,
    }
    assert plan(
        configmaps=["app", "other/db"], secrets=["tls"], default_namespace="me", **common
    ) == [
        Selection(DataKind.CONFIGMAP, "me", "app"),
        Selection(DataKind.CONFIGMAP, "other", "db"),
        Selection(DataKind.SECRET, "me", "tls"),
    ]
    assert plan(
        configmaps=[],
        secrets=[],
        selector="team=a",
        kind="both",
        namespaces=[],
        all_namespaces=True,
        default_namespace="me",
    ) == [
        Selection(DataKind.CONFIGMAP, None, label_selector="team=a"),
        Selection(DataKind.SECRET, None, label_selector="team=a"),
    ]
    with pytest.raises(ValueError, match="not both"):
        plan(configmaps=["a"], secrets=[], default_namespace="me", **{**common, "selector": "x=y"})
    with pytest.raises(ValueError, match="nothing to sync"):
        plan(configmaps=[], secrets=[], default_namespace="me", **common)
    with pytest.raises(ValueError, match="NAMESPACE/NAME"):
        parse_ref("a/b/c", "me")
    assert Selection(DataKind.CONFIGMAP, "ns", "n").field_selector == "metadata.name=n"

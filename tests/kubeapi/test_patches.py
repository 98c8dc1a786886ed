"""The patch formats on plain documents: the cases kubectl's patches rely on."""

from __future__ import annotations

from typing import Any

import pytest

from kubeapi.patches import json_patch, merge_patch, strategic_merge
from kubeapi.status import ApiError


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}}


def test_merge_patch_follows_rfc_7386() -> None:
    doc = {"a": {"b": 1, "c": 2}, "list": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None, "d": 3}, "list": [3]}) == {
        "a": {"c": 2, "d": 3},
        "list": [3],
    }
    assert doc == {"a": {"b": 1, "c": 2}, "list": [1, 2]}  # the input is left alone


def test_json_patch_operations_and_failures() -> None:
    doc = {"a": [1, 2], "b": {"c~/": 1}}
    ops = [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "move", "from": "/b/c~0~1", "path": "/d"},
        {"op": "copy", "from": "/d", "path": "/e"},
        {"op": "replace", "path": "/a/0", "value": 0},
        {"op": "remove", "path": "/a/1"},
        {"op": "test", "path": "/e", "value": 1},
    ]
    assert json_patch(doc, ops) == {"a": [0, 3], "b": {}, "d": 1, "e": 1}
    with pytest.raises(ApiError) as failed:
        json_patch(doc, [{"op": "remove", "path": "/missing"}])
    assert failed.value.code == 422
    with pytest.raises(ApiError) as bad:
        json_patch(doc, {"op": "add"})
    assert bad.value.code == 400


def test_strategic_merge_lists_by_key_with_directives() -> None:
    original = pod_spec(
        {"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]},
        {"name": "b", "image": "y"},
    )
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "z"},
            ]
        }
    }
    merged = strategic_merge(original, patch)
    assert merged["spec"]["containers"] == [
        {
            "name": "a",
            "image": "x",
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
        },
        {"name": "c", "image": "z"},
    ]


def test_strategic_merge_replace_retain_and_primitive_lists() -> None:
    original = {
        "metadata": {"finalizers": ["a", "b"]},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
        "args": ["x", "y"],
    }
    patch = {
        "metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
        "args": ["z"],
    }
    assert strategic_merge(original, patch) == {
        "metadata": {"finalizers": ["b", "c"]},
        "spec": {"strategy": {"type": "Recreate"}},
        "args": ["z"],  # lists without a merge key are replaced
    }
    replaced = strategic_merge({"data": {"a": "1"}}, {"data": {"$patch": "replace", "b": "2"}})
    assert replaced == {"data": {"b": "2"}}

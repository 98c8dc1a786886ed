"""The one ConfigMap/Secret decoder: what a pod would read, and bad input named by key."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from kubereload.kube.data import DataKind, decode_data

KEYS = st.from_regex(r"[-._a-zA-Z0-9]{1,20}", fullmatch=True)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def test_configmap_data_is_text_and_binary_data_is_decoded() -> None:
    obj = {
        "data": {"app.yaml": "message: héllo\n"},
        "binaryData": {"logo.bin": b64(b"\x00\xff\x10")},
    }
    decoded = decode_data(DataKind.CONFIGMAP, obj)
    assert decoded.values == {"app.yaml": "message: héllo\n".encode(), "logo.bin": b"\x00\xff\x10"}
    assert decoded.invalid == ()


def test_secret_data_is_base64() -> None:
    decoded = decode_data(DataKind.SECRET, {"data": {"password": b64(b"s3cr3t")}})
    assert decoded.values == {"password": b"s3cr3t"}
    assert decode_data(DataKind.SECRET, {}).values == {}


def test_bad_base64_leaves_out_that_key_only_and_names_it_never_the_value() -> None:
    obj = {"data": {"ok": b64(b"fine"), "token": "%%%hunter2%%%"}}
    decoded = decode_data(DataKind.SECRET, obj)
    assert decoded.values == {"ok": b"fine"}
    assert decoded.invalid == ("token",)
    assert decoded.problems() == ["key 'token': value is not valid base64"]
    assert "hunter2" not in repr(decoded) + "".join(decoded.problems())
    cm = decode_data(DataKind.CONFIGMAP, {"binaryData": {"logo": "not base64!"}})
    assert cm.values == {} and cm.invalid == ("logo",)


def test_string_data_is_merged_over_data_as_the_api_server_does_on_write() -> None:
    obj = {
        "data": {"user": b64(b"admin"), "password": b64(b"old"), "broken": "%%%"},
        "stringData": {"password": "new", "broken": "fixed", "extra": "x"},
    }
    decoded = decode_data(DataKind.SECRET, obj)
    assert decoded.values == {
        "user": b"admin",
        "password": b"new",
        "broken": b"fixed",
        "extra": b"x",
    }
    assert decoded.invalid == ()  # stringData replaced the bad value
    # a ConfigMap has no stringData: ignored there, as the API server ignores unknown fields
    assert decode_data(DataKind.CONFIGMAP, {"stringData": {"a": "b"}}).values == {}


def test_malformed_fields_are_skipped() -> None:
    assert decode_data(DataKind.CONFIGMAP, {"data": ["not", "a", "map"]}).values == {}
    assert decode_data(DataKind.SECRET, {"data": None}).values == {}


@given(st.dictionaries(KEYS, st.binary(max_size=64), max_size=8))
def test_secret_round_trip(values: dict[str, bytes]) -> None:
    obj = {"data": {k: b64(v) for k, v in values.items()}}
    assert decode_data(DataKind.SECRET, obj).values == values


@given(st.dictionaries(KEYS, st.text(max_size=64), max_size=8))
def test_configmap_round_trip(values: dict[str, str]) -> None:
    decoded = decode_data(DataKind.CONFIGMAP, {"data": values})
    assert decoded.values == {k: v.encode() for k, v in values.items()}


def test_kind_spelling() -> None:
    assert DataKind.parse("configmap") is DataKind.CONFIGMAP
    assert DataKind.parse("Secret") is DataKind.SECRET
    assert DataKind.SECRET.value == "Secret" and DataKind.CONFIGMAP.label == "configmap"

"""Objects are kept as digests only: stable, sensitive to every byte, and never holding values."""

import base64

import pytest

from kubereload.kube.data import DataKind
from kubereload.kube.resources import ObjectRef
from kubereload.rollout.digests import DigestStore, ObjectDigest, summarize_object


def cm(name: str, data: dict[str, str], ns: str = "default", **meta: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": ns, **meta}, "data": data}


def secret(name: str, data: dict[str, bytes], ns: str = "default") -> dict[str, object]:
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    return {"metadata": {"name": name, "namespace": ns}, "data": encoded}


def test_digest_is_stable_and_order_independent() -> None:
    a = summarize_object(DataKind.CONFIGMAP, cm("x", {"a": "1", "b": "2"}))
    b = summarize_object(
        DataKind.CONFIGMAP, {"data": {"b": "2", "a": "1"}, "metadata": {"name": "other"}}
    )
    assert a.digest == b.digest
    assert len(a.digest) == 16


@pytest.mark.parametrize(
    "changed",
    [{"a": "1", "b": "3"}, {"a": "1"}, {"a": "1", "b": "2", "c": ""}, {"a": "1b", "": "2"}],
)
def test_any_change_changes_the_digest(changed: dict[str, str]) -> None:
    base = summarize_object(DataKind.CONFIGMAP, cm("x", {"a": "1", "b": "2"})).digest
    assert summarize_object(DataKind.CONFIGMAP, cm("x", changed)).digest != base


def test_binary_data_and_secret_data_are_decoded() -> None:
    text = summarize_object(DataKind.CONFIGMAP, cm("x", {"k": "value"})).digest
    binary = summarize_object(
        DataKind.CONFIGMAP,
        {"metadata": {}, "binaryData": {"k": base64.b64encode(b"value").decode()}},
    ).digest
    sec = summarize_object(DataKind.SECRET, secret("s", {"k": b"value"})).digest
    assert text == binary == sec


def test_kept_state_holds_no_value() -> None:
    state = summarize_object(
        DataKind.SECRET, secret("s", {"password": b"hunter2-very-secret"}), with_keys=True
    )
    blob = repr(state).encode() + state.digest + b"".join((state.keys or {}).values())
    assert b"hunter2" not in blob
    assert set(state.keys or {}) == {"password"}


def test_bad_base64_counts_as_one_invalid_value_without_the_value() -> None:
    def digest(token: str) -> ObjectDigest:
        obj = {"metadata": {"name": "s"}, "data": {"token": token, "user": "YWRtaW4="}}
        return summarize_object(DataKind.SECRET, obj, with_keys=True)

    bad, other_bad = digest("%%%secret-value%%%"), digest("%%%other%%%")
    assert "secret-value" not in repr(bad)
    assert set(bad.keys or {}) == {"token", "user"}  # the good key still counts
    assert bad.digest == other_bad.digest  # one invalid value is like another
    assert digest("c2VjcmV0").digest != bad.digest  # fixing it is a change


def test_store_reports_changes_and_flags() -> None:
    store = DigestStore()
    ref, changed = store.put(DataKind.CONFIGMAP, cm("x", {"a": "1"}))
    assert ref == ObjectRef(DataKind.CONFIGMAP, "default", "x") and changed
    assert store.put(DataKind.CONFIGMAP, cm("x", {"a": "1"}, resourceVersion="9")) == (ref, False)
    annotated = cm("x", {"a": "1"}, annotations={"reloader.stakater.com/ignore": "true"})
    assert store.put(DataKind.CONFIGMAP, annotated) == (ref, True)
    state = store.get(ref)
    assert state is not None and state.flags.ignore
    assert store.delete(ref) and not store.delete(ref)
    assert store.get(ref) is None and len(store) == 0


def test_per_key_digests_only_while_a_workload_wants_them() -> None:
    store = DigestStore()
    ref, _ = store.put(DataKind.CONFIGMAP, cm("x", {"a": "1", "b": "2"}))
    state = store.get(ref)
    assert state is not None and state.keys is None
    assert store.keep_keys(ref) is True  # must be read again to get per-key digests
    store.put(DataKind.CONFIGMAP, cm("x", {"a": "1", "b": "2"}))
    state = store.get(ref)
    assert state is not None and set(state.keys or {}) == {"a", "b"}
    assert store.keep_keys(ref) is False  # a second user: already there
    store.drop_keys(ref)
    assert (store.get(ref) or state).keys is not None
    store.drop_keys(ref)
    after = store.get(ref)
    assert after is not None and after.keys is None and after.digest == state.digest
    # an object not seen yet needs no read: its first put will carry key digests
    assert store.keep_keys(ObjectRef(DataKind.SECRET, "default", "later")) is False

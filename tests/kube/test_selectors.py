"""Selectors as Reloader's flags take them (key:value, comma lists) and as kubectl's do."""

from __future__ import annotations

import pytest

from kubereload.kube.selectors import label_selector


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("reloader:enabled", "reloader=enabled"),
        ("reloader:enabled, test:true", "reloader=enabled,test=true"),
        ("team:*", "team"),
        ("app.kubernetes.io/part-of:shop", "app.kubernetes.io/part-of=shop"),
        ("env=prod,tier!=cache", "env=prod,tier!=cache"),
        ("env in (prod, staging),!legacy", "env in (prod,staging),!legacy"),
        ("team notin (a)", "team notin (a)"),
        ("empty=", "empty="),
    ],
)
def test_reloader_and_kubectl_syntax(given: str, sent: str) -> None:
    assert label_selector(given) == sent


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ("a:b,", "empty requirement"),
        ("bad key:x", "'bad key:x' is not a requirement"),
        ("k=-x-", "'-x-'"),
        ("k in (a", "'k in (a'"),
        ("=v", "'=v'"),
    ],
)
def test_an_invalid_selector_says_which_part_and_why(given: str, names: str) -> None:
    with pytest.raises(ValueError) as err:
        label_selector(given)
    assert names in str(err.value)

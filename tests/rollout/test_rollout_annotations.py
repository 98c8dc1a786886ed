"""Reloader's annotations and kubereload's own ones mean the same thing."""

import pytest

from kubereload.rollout.annotations import (
    Reading,
    SourceFlags,
    parse_policy,
    parse_source_flags,
    renamed,
)
from kubereload.rollout.kinds import DEPLOYMENT


@pytest.mark.parametrize(
    ("annotations", "cms", "secrets"),
    [
        ({"reloader.stakater.com/auto": "true"}, True, True),
        ({"kubereload.io/auto": "True"}, True, True),
        ({"configmap.reloader.stakater.com/auto": "true"}, True, False),
        ({"kubereload.io/auto-configmaps": "true"}, True, False),
        ({"secret.reloader.stakater.com/auto": "true"}, False, True),
        ({"kubereload.io/auto-secrets": "true"}, False, True),
        ({"reloader.stakater.com/auto": "false"}, False, False),
        ({}, False, False),
    ],
)
def test_auto_annotations(annotations: dict[str, str], cms: bool, secrets: bool) -> None:
    policy = parse_policy(annotations, DEPLOYMENT.pause_annotations)
    assert (policy.auto_configmaps, policy.auto_secrets) == (cms, secrets)
    assert policy.active == (cms or secrets)


def test_auto_reload_all_flag_makes_every_workload_auto() -> None:
    policy = parse_policy({}, reading=Reading(auto_all=True))
    assert policy.auto_configmaps and policy.auto_secrets


def test_reload_lists_from_both_spellings_are_merged() -> None:
    policy = parse_policy(
        {
            "configmap.reloader.stakater.com/reload": "a, b,,",
            "kubereload.io/configmaps": "c",
            "secret.reloader.stakater.com/reload": "s1",
            "kubereload.io/secrets": "s2 , s1",
        },
    )
    assert policy.configmaps == {"a", "b", "c"}
    assert policy.secrets == {"s1", "s2"}
    assert policy.active and not policy.auto_configmaps


def test_search_keys_and_pause() -> None:
    policy = parse_policy(
        {
            "reloader.stakater.com/search": "true",
            "kubereload.io/keys": "app.yaml, level",
            "kubereload.io/pause-period": "1m30s",
        },
    )
    assert policy.search and policy.active
    assert policy.keys == frozenset({"app.yaml", "level"})
    assert policy.pause_period == 90.0
    assert policy.problems == ()


def test_reloader_pause_annotation_applies_to_deployments_only() -> None:
    ann = {"deployment.reloader.stakater.com/pause-period": "5m"}
    assert parse_policy(ann, DEPLOYMENT.pause_annotations).pause_period == 300.0
    assert parse_policy(ann).pause_period is None


def test_bad_values_are_reported_not_fatal() -> None:
    policy = parse_policy(
        {"kubereload.io/pause-period": "soon", "kubereload.io/keys": " , "},
        DEPLOYMENT.pause_annotations,
    )
    assert policy.pause_period is None and policy.keys is None
    assert len(policy.problems) == 2
    assert "soon" in policy.problems[1] or "soon" in policy.problems[0]


def test_source_flags() -> None:
    assert parse_source_flags({}) == SourceFlags()
    assert parse_source_flags({"reloader.stakater.com/ignore": "true"}).ignore
    assert parse_source_flags({"kubereload.io/ignore": "true"}).ignore
    assert parse_source_flags({"reloader.stakater.com/match": "true"}).match
    assert parse_source_flags({"kubereload.io/match": "true"}) == SourceFlags(match=True)


def test_auto_false_declines_auto_reload_all() -> None:
    everyone = Reading(auto_all=True)
    assert parse_policy({}, reading=everyone).auto_configmaps
    declined = parse_policy({"reloader.stakater.com/auto": "false"}, reading=everyone)
    assert declined.declined_auto and not declined.active
    own = parse_policy({"kubereload.io/auto": "False"}, reading=everyone)
    assert not own.active
    typed = parse_policy({"secret.reloader.stakater.com/auto": "false"}, reading=everyone)
    assert typed.auto_configmaps and not typed.auto_secrets
    named = parse_policy(
        {"reloader.stakater.com/auto": "false", "configmap.reloader.stakater.com/reload": "a"},
        reading=everyone,
    )
    assert named.configmaps == {"a"} and not named.auto_configmaps  # named lists still count


def test_renamed_annotations_and_ignored_kinds() -> None:
    reading = renamed(Reading(), auto="example.com/auto", reload_secrets=None)
    assert parse_policy({"example.com/auto": "true"}, reading=reading).auto_secrets
    assert not parse_policy({"reloader.stakater.com/auto": "true"}, reading=reading).active
    assert parse_policy({"kubereload.io/auto": "true"}, reading=reading).active  # ours stay
    no_secrets = Reading(ignored_kinds=frozenset({"Secret"}))
    policy = parse_policy(
        {"reloader.stakater.com/auto": "true", "secret.reloader.stakater.com/reload": "s"},
        reading=no_secrets,
    )
    assert policy.auto_configmaps and not policy.auto_secrets and not policy.secrets

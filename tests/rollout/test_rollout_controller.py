"""`kubereload controller` against the test API server: the user-visible behaviour end to end."""

from __future__ import annotations

import random
import signal
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kubeapi.server import KubeAPIServer
from kubereload.kube.data import DataKind
from kubereload.rollout.decide import decide
from kubereload.rollout.digests import DigestStore, data_ref
from kubereload.rollout.kinds import KINDS
from kubereload.rollout.workloads import from_object
from support.controller import (
    LEASE,
    baseline_hash,
    has_rolled,
    lease_holder,
    rollouts,
    template_hash,
    update_data,
)
from support.fixtures import StartController as Start
from support.objects import cm_volume, configmap, secret, workload
from support.process import wait_until

AUTO = {"reloader.stakater.com/auto": "true"}


def logged_at(line: str) -> datetime:
    """The time at the start of a log line (UTC)."""
    return datetime.fromisoformat(line[:23] + "+00:00")


def test_change_rolls_once_and_restart_rolls_nothing(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("app", {"level": "info"}))
    api.create(workload("web", AUTO, volumes=cm_volume("app")))
    api.create(workload("plain", {}, volumes=cm_volume("app")))
    first = controllers("--debounce", "0s")
    wait_until(lambda: first.adopted(1), what="adoption")
    assert rollouts(api, "web") == 0
    # adopting writes nothing: the hash the pods run is kept in memory, as Reloader does
    assert not any(method == "PATCH" for method, _ in api.request_log)

    update_data(api, "ConfigMap", "app", {"level": "debug"})
    wait_until(lambda: rollouts(api, "web") == 1, what="rollout")
    assert template_hash(api, "web") == desired(api, "web")  # patched before the Event is posted
    assert baseline_hash(api, "web") is None
    assert rollouts(api, "plain") == 0 and baseline_hash(api, "plain") is None
    assert first.stop() == 0
    assert "rolled Deployment default/web because ConfigMap app changed" in first.output()

    second = controllers("--debounce", "0s")
    # its verdict on the one workload is only in its words: nothing to roll, nothing new
    second.wait_logged(r"compared 1 workloads: 0 to roll, 0 new")
    assert rollouts(api, "web") == 1
    assert second.stop() == 0
    assert rollouts(api, "web") == 1


def desired(api: KubeAPIServer, name: str, kind: str = "Deployment") -> str | None:
    """The hash the controller should converge to, computed from the server's objects."""
    store = DigestStore()
    for source in api.list("v1", "ConfigMap", "default"):
        store.keep_keys(data_ref(DataKind.CONFIGMAP, source))
        store.put(DataKind.CONFIGMAP, source)
    for source in api.list("v1", "Secret", "default"):
        store.keep_keys(data_ref(DataKind.SECRET, source))
        store.put(DataKind.SECRET, source)
    obj = api.get("apps/v1", kind, "default", name)
    assert obj is not None
    return decide(from_object(KINDS[kind], obj), store).desired


def test_every_reference_and_annotation_kind(api: KubeAPIServer, controllers: Start) -> None:
    for name in ("vol", "proj", "env", "envfrom", "init", "named", "found", "nomatch", "ign"):
        api.create(configmap(name, {"k": "1", "other": "1"}))
    api.create(
        configmap("ignored", {"k": "1"}, annotations={"reloader.stakater.com/ignore": "true"})
    )
    api.create(secret("sec", {"password": "p1"}))
    api.create(
        configmap("matched", {"k": "1"}, annotations={"reloader.stakater.com/match": "true"})
    )
    cases = {
        "w-volume": (AUTO, {"volumes": cm_volume("vol")}, "Deployment"),
        "w-projected": (
            AUTO,
            {
                "volumes": [
                    {"name": "p", "projected": {"sources": [{"configMap": {"name": "proj"}}]}}
                ]
            },
            "StatefulSet",
        ),
        "w-env": (
            {"configmap.reloader.stakater.com/auto": "true"},
            {
                "container": {
                    "env": [
                        {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "env", "key": "k"}}}
                    ]
                }
            },
            "DaemonSet",
        ),
        "w-envfrom": (
            {"kubereload.io/auto": "true"},
            {"container": {"envFrom": [{"configMapRef": {"name": "envfrom"}}]}},
            "Deployment",
        ),
        "w-init": (AUTO, {"init": {"envFrom": [{"configMapRef": {"name": "init"}}]}}, "Deployment"),
        "w-named": ({"configmap.reloader.stakater.com/reload": "named"}, {}, "Deployment"),
        "w-secret": (
            {"secret.reloader.stakater.com/auto": "true"},
            {"volumes": [{"name": "s", "secret": {"secretName": "sec"}}]},
            "Deployment",
        ),
        "w-search": (
            {"reloader.stakater.com/search": "true"},
            {"volumes": [*cm_volume("matched"), {"name": "n", "configMap": {"name": "nomatch"}}]},
            "Deployment",
        ),
        "w-ignore": (AUTO, {"volumes": cm_volume("ignored")}, "Deployment"),
        "w-keys": (
            {**AUTO, "kubereload.io/keys": "k"},
            {"volumes": cm_volume("found")},
            "Deployment",
        ),
        "w-secret-only-auto": (
            {"secret.reloader.stakater.com/auto": "true"},
            {"volumes": cm_volume("ign")},
            "Deployment",
        ),
    }
    for name, (ann, parts, kind) in cases.items():
        api.create(workload(name, ann, kind=kind, **parts))  # type: ignore[arg-type]
    ctl = controllers("--debounce", "0s", "--rate-limit", "0")
    kinds = {name: kind for name, (_, _, kind) in cases.items()}
    # all but w-ignore and w-secret-only-auto, which select nothing
    wait_until(lambda: ctl.adopted(9), what="adoption")

    # the other key of "found" changes: w-keys must not roll
    update_data(api, "ConfigMap", "found", {"k": "1", "other": "2"})
    for name in ("vol", "proj", "env", "envfrom", "init", "named", "nomatch", "ign", "ignored"):
        update_data(api, "ConfigMap", name, {"k": "2", "other": "1"})
    update_data(api, "ConfigMap", "matched", {"k": "2"})
    update_data(api, "Secret", "sec", {"password": "p2"})
    rolled = {
        "w-volume",
        "w-projected",
        "w-env",
        "w-envfrom",
        "w-init",
        "w-named",
        "w-secret",
        "w-search",
    }
    for name in rolled:
        wait_until(has_rolled(api, name), what=f"rollout of {name}")
        assert template_hash(api, name, kinds[name]) == desired(api, name, kinds[name])
    # a key that counts changes: now w-keys rolls, once
    update_data(api, "ConfigMap", "found", {"k": "2", "other": "2"})
    wait_until(lambda: rollouts(api, "w-keys") == 1, what="rollout of w-keys")
    for name in set(cases) - rolled - {"w-keys"}:
        assert rollouts(api, name) == 0, name
        assert template_hash(api, name, kinds[name]) is None
    assert ctl.stop() == 0
    assert "rolled Deployment default/w-keys" in ctl.output()
    said = [line for line in ctl.lines if "rolled " in line]
    assert len(said) == len(rolled) + 1, "\n".join(ctl.lines)


def test_change_made_while_down_is_rolled_at_start(api: KubeAPIServer, controllers: Start) -> None:
    """A workload rolled once carries its hash: a change made while no controller ran is found."""
    for name in ("a", "b"):
        api.create(configmap(name, {"k": "1"}))
        api.create(workload(f"w-{name}", AUTO, volumes=cm_volume(name)))
    first = controllers("--debounce", "0s")
    wait_until(lambda: first.adopted(2), what="adoption")
    update_data(api, "ConfigMap", "a", {"k": "2"})
    update_data(api, "ConfigMap", "b", {"k": "2"})
    wait_until(lambda: rollouts(api, "w-a") == 1 and rollouts(api, "w-b") == 1)
    assert first.stop() == 0
    update_data(api, "ConfigMap", "a", {"k": "3"})  # nobody is watching
    second = controllers("--debounce", "0s")
    wait_until(lambda: rollouts(api, "w-a") == 2)
    assert template_hash(api, "w-a") == desired(api, "w-a")
    assert second.stop() == 0
    said = second.output()
    assert "compared 2 workloads: 1 to roll, 0 new (hash recorded), 1 unchanged" in said
    assert "rolled Deployment default/w-a because ConfigMap a changed while no controller" in said
    assert rollouts(api, "w-b") == 1


def test_change_while_down_to_a_never_rolled_workload(
    api: KubeAPIServer, controllers: Start
) -> None:
    """By default (as Reloader) it is missed: nothing was written to compare with. With
    ``--record-first-seen-hash`` the hash written at first sight finds it."""
    for name in ("a", "b"):
        api.create(configmap(name, {"k": "1"}))
    api.create(workload("missed", AUTO, volumes=cm_volume("a")))
    api.create(workload("caught", AUTO, volumes=cm_volume("b")))
    first = controllers("--debounce", "0s")
    wait_until(lambda: first.adopted(2), what="adoption")
    assert first.stop() == 0
    update_data(api, "ConfigMap", "a", {"k": "2"})
    second = controllers("--debounce", "0s")
    wait_until(lambda: second.adopted(2), what="adoption again")
    assert second.stop() == 0
    assert rollouts(api, "missed") == 0 and baseline_hash(api, "missed") is None

    third = controllers("--debounce", "0s", "--record-first-seen-hash")
    wait_until(lambda: baseline_hash(api, "caught") and baseline_hash(api, "missed"))
    assert rollouts(api, "caught") == 0 and rollouts(api, "missed") == 0  # recording rolls nothing
    assert third.stop() == 0
    update_data(api, "ConfigMap", "b", {"k": "2"})  # nobody is watching
    fourth = controllers("--debounce", "0s")
    wait_until(lambda: rollouts(api, "caught") == 1)
    assert template_hash(api, "caught") == desired(api, "caught")
    assert fourth.stop() == 0
    assert rollouts(api, "missed") == 0


def test_a_burst_of_changes_makes_at_most_two_rollouts(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("a", {"k": "0"}))
    api.create(secret("s", {"k": "0"}))
    api.create(
        workload(
            "web",
            AUTO,
            volumes=[*cm_volume("a"), {"name": "s", "secret": {"secretName": "s"}}],
        )
    )
    ctl = controllers("--debounce", "3s")  # longer than any pause of a busy test machine
    wait_until(lambda: ctl.adopted(1))
    for i in range(1, 6):
        update_data(api, "ConfigMap", "a", {"k": str(i)})
        update_data(api, "Secret", "s", {"k": str(i)})
    # the first change rolls at once; the rest, made while or just after it rolled, once more
    wait_until(lambda: template_hash(api, "web") == desired(api, "web"), what="last state")
    # each rollout names the objects whose changes it took in
    ctl.wait_logged(
        r"rolled Deployment default/web because "
        r"(ConfigMap a|Secret s)(, (ConfigMap a|Secret s))? changed"
    )
    assert ctl.stop() == 0
    assert 1 <= ctl.output().count("rolled Deployment default/web") <= 2


def test_rate_limit_spreads_rollouts(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("shared", {"k": "1"}))
    names = [f"w{i}" for i in range(6)]
    for name in names:
        api.create(workload(name, AUTO, volumes=cm_volume("shared")))
    ctl = controllers("--debounce", "0s", "--rate-limit", "4", "--rate-burst", "1")
    wait_until(lambda: ctl.adopted(len(names)))
    update_data(api, "ConfigMap", "shared", {"k": "2"})
    wait_until(lambda: all(rollouts(api, n) == 1 for n in names))
    assert ctl.stop() == 0
    times = sorted(logged_at(line) for line in ctl.lines if "rolled Deployment" in line)
    assert len(times) == 6
    # 1 at once, then 4 per second: the 6th no sooner than 1.25 s after the first
    assert (times[-1] - times[0]).total_seconds() >= 1.1


def test_pause_period_holds_a_second_rollout(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("a", {"k": "1"}))
    api.create(
        workload("web", {**AUTO, "kubereload.io/pause-period": "2s"}, volumes=cm_volume("a"))
    )
    ctl = controllers("--debounce", "0s", "--rate-limit", "0")
    wait_until(lambda: ctl.adopted(1))
    update_data(api, "ConfigMap", "a", {"k": "2"})
    wait_until(lambda: rollouts(api, "web") == 1)
    update_data(api, "ConfigMap", "a", {"k": "3"})
    update_data(api, "ConfigMap", "a", {"k": "4"})
    wait_until(lambda: rollouts(api, "web") == 2)
    assert ctl.stop() == 0
    times = [logged_at(line) for line in ctl.lines if "rolled Deployment default/web" in line]
    assert (times[1] - times[0]).total_seconds() >= 1.9
    assert template_hash(api, "web") == desired(api, "web")


def test_leader_handover_with_one_killed(api: KubeAPIServer, controllers: Start) -> None:
    api.create(configmap("a", {"k": "1"}))
    api.create(workload("web", AUTO, volumes=cm_volume("a")))
    election = ("--leader-elect", "--lease-duration", "2s", "--renew-deadline", "1500ms")
    flags = ("--debounce", "0s", *election, "--retry-period", "200ms")
    one, two = controllers(*flags), controllers(*flags)
    holder = wait_until(lambda: lease_holder(api), what="a leader")
    wait_until(lambda: one.adopted(1) and two.adopted(1), what="adoption")
    # who leads is on the Lease: its holder identity starts with the controller's name
    leader, standby = (one, two) if one.holds(holder) else (two, one)
    assert standby.holds(holder) is False and leader.holds(holder)
    update_data(api, "ConfigMap", "a", {"k": "2"})
    wait_until(lambda: rollouts(api, "web") == 1)

    killed_at = datetime.now(UTC)
    leader.stop(signal.SIGKILL)  # no release: the standby must wait the lease out
    update_data(api, "ConfigMap", "a", {"k": "3"})
    wait_until(lambda: lease_holder(api) not in ("", holder), what="a new leader")
    new = lease_holder(api)
    assert standby.holds(new)
    wait_until(lambda: rollouts(api, "web") == 2)
    assert template_hash(api, "web") == desired(api, "web")
    lease = api.get(*LEASE)
    assert lease is not None and lease["spec"]["leaseTransitions"] == 1
    assert standby.stop() == 0
    released = api.get(*LEASE)
    assert released is not None and released["spec"]["holderIdentity"] == ""
    # read once each has stopped, so every line is in: the leader said so, the standby led
    # only after the leader was killed, and rolled the change once
    assert f"{holder} is the leader" in leader.output()
    took_over = [logged_at(line) for line in standby.lines if "is the leader" in line]
    assert len(took_over) == 1 and took_over[0] >= killed_at.replace(
        microsecond=killed_at.microsecond // 1000 * 1000
    )
    assert f"{new} is the leader" in standby.output()
    assert standby.output().count("rolled Deployment default/web") == 1


def test_disconnects_and_410_lose_nothing(api: KubeAPIServer, controllers: Start) -> None:
    names = [f"c{i}" for i in range(12)]
    for name in names:
        api.create(configmap(name, {"k": "0"}))
        api.create(workload(f"w-{name}", AUTO, volumes=cm_volume(name)))
    ctl = controllers("--debounce", "0s", "--rate-limit", "0", "--stall-timeout", "1s")
    wait_until(lambda: ctl.adopted(len(names)))
    rng = random.Random(5)
    changed: set[str] = set()
    for round_ in range(1, 9):
        for name in rng.sample(names, 4):
            update_data(api, "ConfigMap", name, {"k": str(round_)})
            changed.add(name)
        fault = round_ % 4
        if fault == 0:
            api.drop_watches()
        elif fault == 1:
            api.expire_history()
            api.drop_watches()
        elif fault == 2:
            api.stall_watches()
        else:
            api.unstall_watches()
    api.unstall_watches()

    def converged(n: str) -> bool:
        if n in changed:
            return (
                template_hash(api, f"w-{n}") == desired(api, f"w-{n}")
                and rollouts(api, f"w-{n}") > 0
            )
        return rollouts(api, f"w-{n}") == 0

    for name in names:
        try:
            wait_until(partial(converged, name), what=f"w-{name} converged")
        except AssertionError as err:
            raise AssertionError(f"{err}; controller log:\n{ctl.output()[-6000:]}") from None
    for name in changed:  # a rollout per change at most, never one twice
        assert 1 <= rollouts(api, f"w-{name}") <= 8
    assert not {n for n in names if n not in changed and template_hash(api, f"w-{n}")}


def in_namespace(obj: dict[str, Any], namespace: str, **labels: str) -> dict[str, Any]:
    obj["metadata"]["namespace"] = namespace
    obj["metadata"]["labels"] = labels
    return obj


def test_namespace_and_resource_selection(api: KubeAPIServer, controllers: Start) -> None:
    for ns in ("shop", "ops", "lab"):
        api.create(in_namespace(configmap("a", {"k": "1"}), ns, team="x"))
        api.create(in_namespace(configmap("b", {"k": "1"}), ns))
        api.create(in_namespace(workload("web", AUTO, volumes=cm_volume("a")), ns))
        api.create(in_namespace(workload("other", AUTO, volumes=cm_volume("b")), ns))
    ctl = controllers(
        "--namespace",
        "shop",
        "--namespace",
        "ops",
        "--ignore-namespace",
        "ops",
        "--resource-selector",
        "team=x",
        "--debounce",
        "0s",
    )

    wait_until(lambda: ctl.adopted(2), what="adoption in shop")  # web and other
    for ns in ("shop", "ops", "lab"):
        cm = api.get("v1", "ConfigMap", ns, "a")
        other = api.get("v1", "ConfigMap", ns, "b")
        assert cm is not None and other is not None
        cm["data"], other["data"] = {"k": "2"}, {"k": "2"}
        api.update(cm)
        api.update(other)
    wait_until(lambda: rollouts(api, "web", namespace="shop") == 1, what="shop/web rolled")
    assert ctl.stop() == 0
    assert "rolled Deployment shop/web because ConfigMap a changed" in ctl.output()
    # ops is ignored, lab is not watched, and "b" lacks the label: only shop/web rolled
    assert ctl.output().count("rolled ") == 1
    assert rollouts(api, "web", namespace="ops") == 0
    assert rollouts(api, "web", namespace="lab") == 0


def test_namespace_selector(api: KubeAPIServer, controllers: Start) -> None:
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "yes", "labels": {"reload": "on"}},
        }
    )
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "no"}})
    for ns in ("yes", "no"):
        api.create(in_namespace(configmap("a", {"k": "1"}), ns))
        api.create(in_namespace(workload("web", AUTO, volumes=cm_volume("a")), ns))
    ctl = controllers("--namespace-selector", "reload:on", "--debounce", "0s")  # Reloader's syntax
    wait_until(lambda: ctl.adopted(1), what="adoption in yes")
    for ns in ("no", "yes"):
        cm = api.get("v1", "ConfigMap", ns, "a")
        assert cm is not None
        cm["data"] = {"k": "2"}
        api.update(cm)
    wait_until(lambda: rollouts(api, "web", namespace="yes") == 1, what="yes/web rolled")
    assert ctl.stop() == 0
    said = ctl.output()
    assert "compared 1 workloads: 0 to roll, 1 new" in said
    assert "rolled Deployment yes/web because ConfigMap a changed" in said
    assert "no/web" not in said
    assert rollouts(api, "web", namespace="no") == 0


def finish_rollout(api: KubeAPIServer, name: str) -> None:
    """Play the Deployment controller: report the rollout of ``name`` done."""
    obj = api.get("apps/v1", "Deployment", "default", name)
    assert obj is not None
    generation = obj["metadata"]["generation"]
    obj["status"] = {
        "observedGeneration": generation,
        "replicas": 1,
        "updatedReplicas": 1,
        "availableReplicas": 1,
    }
    api.update_status(obj)


def test_max_concurrent_waits_for_rollouts_to_finish(
    api: KubeAPIServer, controllers: Start
) -> None:
    api.create(configmap("shared", {"k": "1"}))
    names = ["w0", "w1", "w2"]
    for name in names:
        api.create(workload(name, AUTO, volumes=cm_volume("shared")))
    ctl = controllers("--debounce", "0s", "--rate-limit", "0", "--max-concurrent-rollouts", "1")
    wait_until(lambda: ctl.adopted(len(names)))
    update_data(api, "ConfigMap", "shared", {"k": "2"})
    done: list[str] = []
    for _ in names:
        rolled = wait_until(
            lambda: [n for n in names if rollouts(api, n) and n not in done], what="next rollout"
        )
        assert len(rolled) == 1, f"more than one rolling at once: {rolled}"
        # while it rolls, nothing else starts (its status still says in progress)
        assert sum(1 for n in names if rollouts(api, n)) == len(done) + 1
        finish_rollout(api, rolled[0])
        done.append(rolled[0])
    assert sorted(done) == names
    assert ctl.stop() == 0
    assert ctl.output().count("rolled Deployment") == len(names)


def test_change_racing_adoption_still_rolls(api: KubeAPIServer, controllers: Start) -> None:
    names = [f"r{i}" for i in range(20)]
    for name in names:
        api.create(configmap(name, {"k": "1"}))
        api.create(workload(f"w-{name}", AUTO, volumes=cm_volume(name)))
    controllers("--debounce", "0s", "--rate-limit", "0", "--record-first-seen-hash")
    # The first adoption PATCH is sent only after the controller compared every workload (one
    # synchronous pass): each was first seen with k=1, which is what its pods run.
    wait_until(lambda: any(method == "PATCH" for method, _ in api.request_log), what="adoption")
    for name in names:
        update_data(api, "ConfigMap", name, {"k": "2"})
    for name in names:
        wait_until(has_rolled(api, f"w-{name}"), what=f"w-{name} rolled")
        assert template_hash(api, f"w-{name}") == desired(api, f"w-{name}")

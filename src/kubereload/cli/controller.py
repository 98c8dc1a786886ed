"""``kubereload controller``: roll the workloads that use a changed ConfigMap or Secret.

A drop-in for stakater/Reloader (its annotations work unchanged): one rollout per change, a
hash per object instead of whole Secrets in memory, storm control, and no rollout at all when
the controller restarts; changes made while it was down are found at start-up for every
workload that carries a hash (rolled once, or any with ``--record-first-seen-hash``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import threading
import uuid
from typing import Any

from kubereload import __version__
from kubereload.cli.env import RepeatedFlag, apply_env
from kubereload.cli.flags import add_kube_flags, add_service_flags
from kubereload.cli.logs import setup_logging
from kubereload.cli.usage import help_text
from kubereload.cli.values import count, duration, rate
from kubereload.kube.config import Cluster, KubeConfigError, async_client, load_config
from kubereload.kube.lease import ApiLeaseStore, LeaderElector
from kubereload.kube.selectors import label_selector
from kubereload.kube.status import stop_on_signals
from kubereload.rollout.annotations import (
    AUTO,
    AUTO_CONFIGMAPS,
    AUTO_SECRETS,
    MATCH,
    RELOAD_CONFIGMAPS,
    RELOAD_SECRETS,
    SEARCH,
    Reading,
    renamed,
)
from kubereload.rollout.controller import Controller, Settings
from kubereload.rollout.kinds import BY_ALIAS, KINDS
from kubereload.rollout.patches import STRATEGIES
from kubereload.server import HealthRegistry, Registry, StatusServer, parse_listen

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  # roll every workload annotated for it (stakater/Reloader's annotations work unchanged)
  kubereload controller --listen :9090

  # two replicas, one acting (a Lease); at most 3 workloads rolling at a time
  kubereload controller --leader-elect --max-concurrent-rollouts 3 --listen :9090

  # one namespace, and only log what would roll
  kubereload controller --namespace team-a --dry-run

  # every workload counts as annotated reloader.stakater.com/auto, but not in kube-system
  kubereload controller --auto-reload-all --ignore-namespace kube-system
"""


def add_controller_flags(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to watch")
    what.add_argument(
        "--namespace",
        action=RepeatedFlag,
        metavar="NS",
        help="watch only NS (repeatable; default all)",
    )
    what.add_argument(
        "--namespace-selector",
        metavar="LABELS",
        help="watch only namespaces with these labels (key=value or Reloader's key:value, "
        "comma-separated)",
    )
    what.add_argument(
        "--ignore-namespace",
        "--namespaces-to-ignore",
        action=RepeatedFlag,
        type=_comma_list,
        metavar="NS",
        help="never act in NS (repeatable, or a comma list)",
    )
    what.add_argument(
        "--resource-selector",
        "--resource-label-selector",
        metavar="LABELS",
        help="only ConfigMaps/Secrets with these labels count (syntax as --namespace-selector)",
    )
    what.add_argument(
        "--resources-to-ignore",
        action=RepeatedFlag,
        type=_comma_list,
        metavar="KIND",
        help="configMaps or secrets: never watched, and references to them never count",
    )
    what.add_argument(
        "--ignored-workload-types",
        action=RepeatedFlag,
        type=_comma_list,
        metavar="KIND",
        help="workload kinds never rolled: deployments, statefulsets, daemonsets, rollouts, "
        "cronjobs (jobs is accepted, as Reloader's, and means nothing: Jobs are never rolled)",
    )
    what.add_argument(
        "--auto-reload-all",
        action="store_true",
        help='treat every workload as annotated reloader.stakater.com/auto, unless it says "false"',
    )
    what.add_argument(
        "--reload-on-create",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="a ConfigMap/Secret created after start rolls its users (default false, as Reloader)",
    )
    what.add_argument(
        "--reload-on-delete",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="a deleted ConfigMap/Secret rolls its users (default false, as Reloader)",
    )
    names = parser.add_argument_group(
        "annotation names (Reloader's flags; kubereload.io/ names always count too)"
    )
    for flag, field, default in ANNOTATION_FLAGS:
        names.add_argument(
            flag, dest=f"annotation_{field}", metavar="NAME", help=f"default {default}"
        )
    how = parser.add_argument_group("how to roll")
    how.add_argument(
        "--reload-strategy",
        choices=STRATEGIES,
        default="annotations",
        help="annotations (default): pod template annotations; env-vars: also Reloader's "
        "STAKATER_<NAME>_CONFIGMAP|SECRET variables",
    )
    how.add_argument(
        "--debounce",
        type=duration,
        default=1.0,
        metavar="DURATION",
        help="changes to one workload within this time make one rollout (default 1s)",
    )
    how.add_argument(
        "--max-concurrent-rollouts",
        type=count(0, 100_000),
        default=0,
        metavar="N",
        help="at most N workloads rolling at once: a slot is held until the workload's status "
        "shows the rollout done, or --rollout-timeout (default 0: no limit)",
    )
    how.add_argument(
        "--rollout-timeout",
        type=duration,
        default=300.0,
        metavar="DURATION",
        help="with --max-concurrent-rollouts: longest a rollout holds its slot (default 5m)",
    )
    how.add_argument(
        "--rate-limit",
        type=rate,
        default=5.0,
        metavar="PER_SECOND",
        help="cluster-wide rollouts per second (default 5; 0: no limit)",
    )
    how.add_argument(
        "--rate-burst",
        type=count(1, 100_000),
        default=10,
        metavar="N",
        help="rollouts allowed in a burst",
    )
    how.add_argument(
        "--argo-rollouts",
        dest="argo_rollouts",
        type=_boolean,
        metavar="BOOL",
        help="watch Argo Rollouts: true or false (as Reloader's is-Argo-Rollouts; default: if "
        "the API server serves them)",
    )
    how.add_argument(
        "--cronjob-job-now",
        action="store_true",
        help="a CronJob whose config changed also starts a Job at once, as Reloader does "
        "(default: only its job template is patched; the next scheduled Job runs with it)",
    )
    how.add_argument(
        "--record-first-seen-hash",
        action="store_true",
        help="write the config hash to each workload first seen without one (a PATCH of its "
        "metadata per workload at the first start; restarts nothing), so that a later start "
        "also rolls a never-rolled workload whose config changed while no controller ran "
        "(default: that hash is kept in memory only and nothing is written at start, as "
        "Reloader does; workloads rolled once always carry their hash)",
    )
    how.add_argument(
        "--dry-run", action="store_true", help="log what would be rolled; write nothing"
    )
    how.add_argument(
        "--stall-timeout",
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="replace a watch still silent this long after the server should have ended it"
        " (a dead connection; quiet watches are normal) (default 60s)",
    )
    ha = parser.add_argument_group("leader election (for several replicas)")
    ha.add_argument(
        "--leader-elect",
        "--enable-ha",
        action="store_true",
        help="act only while holding a Lease (Reloader: --enable-ha)",
    )
    ha.add_argument(
        "--leader-election-name",
        default="kubereload-controller",
        metavar="NAME",
        help="Lease name (default kubereload-controller)",
    )
    ha.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="Lease namespace (default: the pod's or the context's namespace)",
    )
    ha.add_argument(
        "--lease-duration",
        type=duration,
        default=15.0,
        metavar="DURATION",
        help="a Lease not renewed for this long may be taken by another replica (default 15s)",
    )
    ha.add_argument(
        "--renew-deadline",
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="the leader stops acting if it cannot renew within this (default 10s)",
    )
    ha.add_argument(
        "--retry-period",
        type=duration,
        default=2.0,
        metavar="DURATION",
        help="how often to try to take or renew the Lease (default 2s)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "controller",
        help="roll Deployments/StatefulSets/DaemonSets/CronJobs when their ConfigMaps/Secrets "
        "change",
        description=help_text(__doc__),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_controller_flags(parser)
    add_kube_flags(parser)
    add_service_flags(parser, reloads=False)
    apply_env(parser)
    parser.set_defaults(handler=handle)


ANNOTATION_FLAGS = (
    ("--auto-annotation", "auto", AUTO[0]),
    ("--configmap-auto-annotation", "auto_configmaps", AUTO_CONFIGMAPS[0]),
    ("--secret-auto-annotation", "auto_secrets", AUTO_SECRETS[0]),
    ("--configmap-annotation", "reload_configmaps", RELOAD_CONFIGMAPS[0]),
    ("--secret-annotation", "reload_secrets", RELOAD_SECRETS[0]),
    ("--auto-search-annotation", "search", SEARCH[0]),
    ("--search-match-annotation", "match", MATCH[0]),
)
DATA_KINDS = {"configmaps": "ConfigMap", "secrets": "Secret"}
SKIPPED_KINDS = ("jobs",)  # Reloader's value for a kind kubereload never rolls


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected true or false")
    return value == "true"


def _flat(values: list[Any]) -> list[str]:
    """A RepeatedFlag of comma lists (from flags) or of strings (from the environment)."""
    out: list[str] = []
    for value in values:
        out.extend(value if isinstance(value, list) else _comma_list(str(value)))
    return out


def _reading(args: argparse.Namespace) -> Reading:
    ignored: set[str] = set()
    for name in _flat(args.resources_to_ignore):
        if name.lower() not in DATA_KINDS:
            raise ValueError(f"--resources-to-ignore {name!r}: expected configMaps or secrets")
        ignored.add(DATA_KINDS[name.lower()])
    base = Reading(auto_all=args.auto_reload_all, ignored_kinds=frozenset(ignored))
    names = {field: getattr(args, f"annotation_{field}") for _, field, _ in ANNOTATION_FLAGS}
    return renamed(base, **names)


def _ignored_workload_kinds(values: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for name in values:
        kind = BY_ALIAS.get(name.lower())
        if kind is not None:
            out.add(kind.name)
        elif name.lower() not in SKIPPED_KINDS:
            known = ", ".join(k.aliases[1] for k in KINDS.values())
            raise ValueError(f"--ignored-workload-types {name!r}: expected some of {known}")
    return frozenset(out)


def _selector(flag: str, text: str | None) -> str | None:
    if not text:
        return None
    try:
        return label_selector(text)
    except ValueError as err:
        raise ValueError(f"{flag}: {err}") from None


def identity() -> str:
    """Who holds the Lease: the pod name (its hostname) plus a random part, as client-go."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"


def settings_from(args: argparse.Namespace, who: str) -> Settings:
    if args.max_concurrent_rollouts < 0 or args.rate_limit < 0 or args.rate_burst < 1:
        raise ValueError(
            "--max-concurrent-rollouts and --rate-limit cannot be negative, --rate-burst >= 1"
        )
    if args.leader_elect and not (
        args.lease_duration > args.renew_deadline > args.retry_period > 0
    ):
        raise ValueError("need --lease-duration > --renew-deadline > --retry-period > 0")
    return Settings(
        namespaces=tuple(args.namespace),
        ignore_namespaces=frozenset(_flat(args.ignore_namespace)),
        namespace_selector=_selector("--namespace-selector", args.namespace_selector),
        resource_selector=_selector("--resource-selector", args.resource_selector),
        reading=_reading(args),
        reload_on_create=args.reload_on_create,
        reload_on_delete=args.reload_on_delete,
        ignored_workload_kinds=_ignored_workload_kinds(_flat(args.ignored_workload_types)),
        run_jobs_now=args.cronjob_job_now,
        record_first_seen_hash=args.record_first_seen_hash,
        argo_rollouts=args.argo_rollouts,
        strategy=args.reload_strategy,
        debounce=args.debounce,
        max_concurrent=args.max_concurrent_rollouts or None,
        rate=args.rate_limit or None,
        burst=args.rate_burst,
        dry_run=args.dry_run,
        stall_timeout=args.stall_timeout,
        rollout_timeout=args.rollout_timeout,
        identity=who,
    )


def handle(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level)
    who = identity()
    try:
        config = load_config(args.kubeconfig, args.context)
        settings = settings_from(args, who)
    except (KubeConfigError, ValueError) as err:
        log.error("%s", err)
        return 2
    registry, health = Registry(), HealthRegistry()
    registry.gauge("build_info", "Always 1; the version is a label.", ["version"]).set(
        1, version=__version__
    )
    health.set("ready", "informers", "not started")  # until the controller makes them
    server: StatusServer | None = None
    if args.listen:
        try:
            server = StatusServer(parse_listen(args.listen), registry, health)
        except (OSError, ValueError) as err:
            log.error("--listen %s: %s", args.listen, err)
            return 2
        server.start()
        log.info(
            "serving /healthz, /readyz, /metrics on %s:%d", server.server_address[0], server.port
        )
    mode = "dry-run, " if settings.dry_run else ""
    where = ", ".join(settings.namespaces) or "all namespaces"
    log.info("controller %s starting (%s%s; %s)", who, mode, where, config.source)
    try:
        return asyncio.run(serve(config, settings, registry, health, args))
    finally:
        if server is not None:
            server.close()


async def serve(
    config: Cluster,
    settings: Settings,
    registry: Registry,
    health: HealthRegistry,
    args: argparse.Namespace,
) -> int:
    loop = asyncio.get_running_loop()
    stop = stop_on_signals()
    async with async_client(config) as client:
        elector: LeaderElector | None = None
        if args.leader_elect:
            store = ApiLeaseStore(
                client,
                loop,
                args.leader_election_name,
                args.leader_election_namespace or config.namespace,
            )
            elector = LeaderElector(
                store,
                settings.identity,
                lease_duration=args.lease_duration,
                renew_deadline=args.renew_deadline,
                retry_period=args.retry_period,
            )
        controller = Controller(
            client,
            settings,
            registry,
            health,
            leading=elector.leading if elector else (lambda: True),
        )
        if elector is None:
            controller.became_leader()
            return await controller.run(stop)
        return await _with_election(controller, elector, stop, loop)


async def _with_election(
    controller: Controller,
    elector: LeaderElector,
    stop: asyncio.Event,
    loop: asyncio.AbstractEventLoop,
) -> int:
    """Run the controller warm (informers on) and act only while leading; exit 1 if the lease
    is lost, so the pod restarts clean, as client-go controllers do."""
    stop_election = threading.Event()
    lost = asyncio.Event()
    controller.metrics.leader.set(0)

    def stopped() -> None:
        if not stop_election.is_set():
            loop.call_soon_threadsafe(lost.set)

    thread = threading.Thread(
        target=elector.run,
        args=(stop_election, lambda: loop.call_soon_threadsafe(controller.became_leader), stopped),
        name="leader-election",
        daemon=True,
    )
    thread.start()
    halt = asyncio.Event()
    watcher = asyncio.create_task(_first(stop, lost, halt))
    try:
        code = await controller.run(halt)
    finally:
        watcher.cancel()
        stop_election.set()
        await asyncio.to_thread(thread.join, 15)
    if lost.is_set() and not stop.is_set():
        log.error("lost the leader lease: exiting so a fresh replica takes over")
        return 1
    return code


async def _first(stop: asyncio.Event, lost: asyncio.Event, halt: asyncio.Event) -> None:
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        halt.set()
    finally:
        for task in waits:
            task.cancel()

"""``kubereload explain KIND/NAME -n NS``: what a workload depends on, and what a change does.

``explain configmap/NAME`` (or ``secret/NAME``) turns the question around: which workloads of
the namespace a change to that object rolls, through what, and which use it without being rolled.

Reads the workload and the ConfigMaps/Secrets it may use (never printing their values), then
prints each dependency, the reference it comes through (volume, env, envFrom), the objects it
uses that do not count and why, subPath warnings, and whether the controller would roll it now.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from kubereload.cli.env import apply_env
from kubereload.cli.flags import add_kube_flags
from kubereload.cli.usage import help_text
from kubereload.kube.config import Cluster, KubeConfigError, async_client, load_config
from kubereload.kube.data import DataKind
from kubereload.kube.errors import KubeError
from kubereload.rollout.annotations import Reading
from kubereload.rollout.explain import explain_users, explain_workload
from kubereload.rollout.kinds import BY_ALIAS, KINDS, WorkloadKind

log = logging.getLogger(__name__)


def object_ref(text: str) -> tuple[WorkloadKind | DataKind, str]:
    kind, sep, name = text.partition("/")
    if sep and name and kind.lower() in BY_ALIAS:
        return BY_ALIAS[kind.lower()], name
    if sep and name and kind.lower().rstrip("s") in DATA_ALIASES:
        return DATA_ALIASES[kind.lower().rstrip("s")], name
    names = ", ".join([k.aliases[0] for k in KINDS.values()] + list(DATA_ALIASES))
    raise argparse.ArgumentTypeError(f"{text!r}: expected KIND/NAME with KIND one of {names}")


DATA_ALIASES = {
    "configmap": DataKind.CONFIGMAP,
    "cm": DataKind.CONFIGMAP,
    "secret": DataKind.SECRET,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show which ConfigMaps/Secrets a workload depends on and whether a change rolls "
        "it, or which workloads a ConfigMap/Secret change rolls",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "object",
        type=object_ref,
        metavar="KIND/NAME",
        help="a workload (deployment/web, cronjob/report, ...): what it depends on; or "
        "configmap/NAME, secret/NAME: which workloads a change to it rolls",
    )
    parser.add_argument("-n", "--namespace", metavar="NS", help="default: the context's")
    parser.add_argument(
        "--auto-reload-all",
        action="store_true",
        help="as the controller with --auto-reload-all",
    )
    add_kube_flags(parser)
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        config = load_config(args.kubeconfig, args.context)
    except KubeConfigError as err:
        log.error("%s", err)
        return 2
    kind, name = args.object
    namespace = args.namespace or config.namespace
    try:
        text = asyncio.run(_explain(config, kind, namespace, name, args.auto_reload_all))
    except KubeError as err:
        log.error("reading from %s failed: %s", config.server, err)
        return 1
    if text is None:
        log.error("%s %s/%s not found", kind, namespace, name)
        return 1
    sys.stdout.write(text)
    return 0


async def _explain(
    cluster: Cluster, kind: WorkloadKind | DataKind, namespace: str, name: str, auto_all: bool
) -> str | None:
    reading = Reading(auto_all=auto_all)
    async with async_client(cluster) as client:
        if isinstance(kind, DataKind):
            return await explain_users(client, kind, namespace, name, reading=reading)
        return await explain_workload(client, kind, namespace, name, reading=reading)

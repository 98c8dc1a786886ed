"""The flag groups the commands share: what to watch, what to do on a change, status and logs,
and which cluster. The reload actions' flags come from the actions' own descriptions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kubereload.actions import ACTIONS, Flag
from kubereload.actions.spec import flags_of
from kubereload.cli.env import OrderedFlag, RepeatedFlag
from kubereload.cli.values import delay, listen, timeout, value_type


def add_source_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sources (repeatable; a directory, or a single file)")
    group.add_argument(
        "--dir",
        "--volume-dir",  # configmap-reload
        "--watched-dir",  # prometheus-config-reloader
        action=RepeatedFlag,
        type=Path,
        metavar="DIR",
        help="a mounted ConfigMap/Secret volume or any directory to watch",
    )
    group.add_argument(
        "--file",
        action=RepeatedFlag,
        type=Path,
        metavar="FILE",
        help="one file to watch (its directory is watched, as it must be)",
    )


def dest_of(flag: Flag) -> str:
    """Where argparse keeps a flag's value: ``--webhook-method`` -> ``webhook_method``."""
    return flag.name.removeprefix("--").replace("-", "_")


def _add_described(group: Any, flag: Flag, default: Any, *, primary: bool) -> None:
    kwargs: dict[str, Any] = {"help": flag.help, "dest": dest_of(flag)}
    names = (flag.name, *flag.aliases)
    if flag.switch:
        group.add_argument(*names, action="store_true", **kwargs)
        return
    if flag.metavar:
        kwargs["metavar"] = flag.metavar
    if flag.parse is not None:
        kwargs["type"] = value_type(flag.parse)
    if flag.repeat:
        group.add_argument(*names, action=RepeatedFlag, ordered=primary, **kwargs)
    elif primary:
        group.add_argument(*names, action=OrderedFlag, **kwargs)
    else:
        group.add_argument(*names, default=default, **kwargs)


def add_action_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "reload",
        "On a change: wait --coalesce and --jitter, run --validate, then every action "
        "in the order given on the command line.",
    )
    group.add_argument(
        "--validate",
        metavar="CMD",
        help="run before reloading; a non-zero exit cancels the reload (e.g. 'nginx -t')",
    )
    group.add_argument(
        "--validate-timeout",
        type=timeout,
        default=60.0,
        metavar="DURATION",
        help="kill --validate after this long, and count it failed (default 60s)",
    )
    for options_type in ACTIONS:
        for index, described in enumerate(flags_of(options_type)):
            _add_described(group, described.flag, described.default, primary=index == 0)
    group.add_argument("--initial-reload", action="store_true", help="also reload once at start")
    group.add_argument(
        "--jitter",
        type=delay,
        default=0.0,
        metavar="DURATION",
        help="wait a random time up to this before reloading, so replicas do not "
        "reload at once (default 0)",
    )
    group.add_argument(
        "--coalesce",
        type=delay,
        default=0.1,
        metavar="DURATION",
        help="with several sources, wait up to this for the others to change too, "
        "so one update reloads once (default 100ms)",
    )


def add_service_flags(parser: argparse.ArgumentParser, *, reloads: bool = True) -> None:
    """``--listen`` and the logs; ``reloads``: a sidecar that reloads (``--unready-on-failure``,
    and the names configmap-reload gives ``--listen`` and ``--metrics-path``)."""
    group = parser.add_argument_group("health, metrics and logs")
    listen_names: tuple[str, ...] = ("--listen",)
    if reloads:  # configmap-reload's and prometheus-config-reloader's names too
        listen_names += ("--web.listen-address", "--listen-address")
    group.add_argument(
        *listen_names,
        dest="listen",
        type=listen,
        metavar="ADDR",
        help="serve /healthz, /readyz and /metrics here (e.g. :9090)",
    )
    if reloads:
        group.add_argument(
            "--metrics-path",
            "--web.telemetry-path",
            default="/metrics",
            metavar="PATH",
            help="serve the metrics at this path instead (default /metrics)",
        )
        group.add_argument(
            "--unready-on-failure",
            action="store_true",
            help="fail /readyz while the last reload failed",
        )
    add_log_flags(group)


def add_log_flags(group: argparse._ArgumentGroup) -> None:
    """``--log-format`` and ``--log-level``, as every long-running command spells them."""
    group.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="default text"
    )
    group.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="default info",
    )


def add_kube_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cluster",
        "Default: $KUBECONFIG, else the pod's service account, else ~/.kube/config.",
    )
    group.add_argument("--kubeconfig", type=Path, metavar="FILE", help="kubeconfig file to use")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")


def add_api_source_flags(parser: argparse.ArgumentParser) -> None:
    """``--configmap``/``--secret`` for ``run``: synced from the API into its one ``--dir``."""
    group = parser.add_argument_group(
        "API sources",
        "Instead of a mounted volume, write these objects into --dir from the API (like "
        "`kubereload sync`); CMD starts once they are written.",
    )
    group.add_argument("--configmap", action=RepeatedFlag, metavar="[NS/]NAME", help="repeatable")
    group.add_argument("--secret", action=RepeatedFlag, metavar="[NS/]NAME", help="repeatable")
    add_kube_flags(parser)

"""Parsed flags to the library's typed options (``kubereload.sidecar``)."""

from __future__ import annotations

import argparse
from typing import Any

from kubereload.actions import ACTIONS, ActionOptions
from kubereload.actions.redact import url_secrets
from kubereload.actions.spec import flags_of
from kubereload.cli.flags import dest_of
from kubereload.sidecar import ReloadOptions, SidecarOptions


def _check_companions(args: argparse.Namespace) -> None:
    """``--pid`` without ``--signal`` is a mistake, not something to ignore."""
    for options_type in ACTIONS:
        primary, *rest = (d.flag for d in flags_of(options_type))
        companions = [flag for flag in rest if flag.needs_primary]
        if not getattr(args, dest_of(primary)) and any(
            getattr(args, dest_of(flag)) for flag in companions
        ):
            names = ", ".join(f.name for f in companions[:-1]) + " and " + companions[-1].name
            raise ValueError(f"{names} need {primary.name}")


def action_options(args: argparse.Namespace) -> list[ActionOptions]:
    """The reload actions, in the order given on the command line (then env-only ones)."""
    _check_companions(args)
    by_dest = {dest_of(flags_of(t)[0].flag): t for t in ACTIONS}
    order: list[tuple[str, Any]] = list(getattr(args, "action_order", None) or [])
    given = {dest for dest, _ in order}
    for dest in by_dest:
        value = getattr(args, dest)
        if dest not in given and value:
            order += [(dest, v) for v in value] if isinstance(value, list) else [(dest, value)]
    found: list[ActionOptions] = []
    for dest, value in order:
        options_type = by_dest[dest]
        first, *rest = flags_of(options_type)
        values: dict[str, Any] = {first.field: value}
        for name, flag, _default in rest:
            given_value = getattr(args, dest_of(flag))
            if flag.repeat:
                given_value = tuple(given_value)
            if flag.collect is not None:
                given_value = flag.collect(given_value)
            values[name] = given_value
        found.append(options_type(**values))
    return found


def reload_options(args: argparse.Namespace) -> ReloadOptions:
    """ValueError when the flags contradict each other."""
    return ReloadOptions(
        actions=action_options(args),
        validate=args.validate,
        validate_timeout=args.validate_timeout,
        validate_shell=args.exec_shell,
        initial_reload=args.initial_reload,
        jitter=args.jitter,
        coalesce=args.coalesce,
    )


def sidecar_options(args: argparse.Namespace) -> SidecarOptions:
    """For ``watch`` and ``run``; ValueError when the flags contradict each other."""
    return SidecarOptions(
        paths=[*args.dir, *args.file],
        reload=reload_options(args),
        listen=args.listen,
        metrics_path=args.metrics_path,
        unready_on_failure=args.unready_on_failure,
    )


def log_secrets(args: argparse.Namespace) -> list[str]:
    """What the log filter masks: the secret parts of the webhook URLs."""
    return url_secrets(args.webhook)

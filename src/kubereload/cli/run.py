"""``kubereload run -- CMD``: supervise a program as PID 1 and reload it on config changes."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import TYPE_CHECKING, Any

from kubereload.cli.env import apply_env
from kubereload.cli.flags import (
    add_action_flags,
    add_api_source_flags,
    add_service_flags,
    add_source_flags,
)
from kubereload.cli.logs import setup_logging
from kubereload.cli.options import log_secrets, sidecar_options
from kubereload.cli.usage import fail
from kubereload.cli.values import delay, signal_type
from kubereload.sidecar import Sidecar
from kubereload.supervise import ChildReload, Supervisor

if TYPE_CHECKING:
    from kubereload.sync.background import BackgroundSync

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  # an app that reloads on SIGHUP: validate the new config first
  kubereload run --dir /etc/app --validate 'app --check-config /etc/app/app.yaml' -- app serve

  # an app that cannot reload: restart it (SIGTERM, 20s grace, then SIGKILL)
  kubereload run --dir /etc/app --restart --stop-timeout 20s -- python -m myapp

  # only an init process (reaps zombies, forwards signals, exits with the child's code)
  kubereload run -- ./server --port 8080

As PID 1 (the container's entrypoint) it reaps every zombie, orphaned grandchildren included;
elsewhere it makes itself their subreaper. SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 and SIGUSR2
are forwarded to the child. When the child exits, kubereload exits with its code (128+N if
killed by signal N), so Kubernetes restarts the pod. The actions of `watch` (--webhook,
--signal, --exec) run before the child is reloaded.
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="supervisor: run CMD as PID 1, reload or restart it on a config change",
        description="Run CMD as a child: reap zombies, forward signals, exit with its code; on "
        "a config change, validate then signal it (--reload-signal) or restart it (--restart).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="kubereload run [options] -- CMD [ARGS...]",
    )
    add_source_flags(parser)
    add_api_source_flags(parser)
    group = parser.add_argument_group("the child")
    group.add_argument(
        "--reload-signal",
        type=signal_type,
        default=signal.SIGHUP,
        metavar="SIG",
        help="signal that makes CMD reload its config (default HUP)",
    )
    group.add_argument(
        "--restart", action="store_true", help="restart CMD on a change instead of signalling it"
    )
    group.add_argument(
        "--stop-signal",
        type=signal_type,
        default=signal.SIGTERM,
        metavar="SIG",
        help="with --restart: signal asking CMD to stop (default TERM)",
    )
    group.add_argument(
        "--stop-timeout",
        type=delay,
        default=10.0,
        metavar="DURATION",
        help="SIGKILL CMD this long after asking it to stop, on --restart and on shutdown "
        "(default 10s)",
    )
    add_action_flags(parser)
    add_service_flags(parser)
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD ARGS",
        help="the program to run, after --",
    )
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    setup_logging(args.log_format, args.log_level, log_secrets(args))
    if not argv:
        return fail("run", "no command: kubereload run [options] -- CMD [ARGS...]")
    supervisor = Supervisor(argv, stop_signal=args.stop_signal, stop_timeout=args.stop_timeout)
    child_reload = ChildReload(supervisor, args.reload_signal, restart=args.restart)
    try:
        sidecar = Sidecar(sidecar_options(args), extra_actions=[child_reload])
        api_sync = _start_api_sync(args)
    except ValueError as exc:
        return fail("run", str(exc))
    try:
        sidecar.serve_status()
    except (OSError, ValueError) as exc:
        return fail("run", f"--listen {args.listen}: {exc}")
    try:
        supervisor.start()
    except OSError as exc:
        log.error("cannot start %s: %s", argv[0], exc.strerror or exc)
        return 127
    sidecar.telemetry.health.add_probe(
        "live", "child", lambda: None if supervisor.pid is not None else "the child is not running"
    )
    sidecar.start()
    try:
        return supervisor.run()
    finally:
        if api_sync is not None:
            api_sync.close()
        sidecar.close(timeout=2)


def _start_api_sync(args: argparse.Namespace) -> BackgroundSync | None:
    """``--configmap``/``--secret``: the API writes into ``--dir`` (this loads the kube client)."""
    if not (args.configmap or args.secret):
        return None
    if len(args.dir) != 1 or args.file:
        raise ValueError("--configmap/--secret write into exactly one --dir (and no --file)")
    from kubereload.kube.config import KubeConfigError, load_config  # noqa: PLC0415
    from kubereload.sync.background import start_api_sync  # noqa: PLC0415

    try:
        config = load_config(args.kubeconfig, args.context)
    except KubeConfigError as err:
        raise ValueError(str(err)) from err
    return start_api_sync(config, configmaps=args.configmap, secrets=args.secret, root=args.dir[0])

"""``kubereload run -- CMD``: supervise a program as PID 1 and reload it on config changes."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from kubereload.cli.common import (
    ENV_HELP,
    add_action_flags,
    add_api_source_flags,
    add_service_flags,
    add_source_flags,
    apply_env,
    build_pipeline,
    duration,
    fail,
    setup_logging,
    signal_type,
    start_server,
    url_secrets,
)
from kubereload.cli.sources import WatchedSources
from kubereload.cli.telemetry import Telemetry
from kubereload.supervise import ChildReload, Supervisor

log = logging.getLogger("kubereload")

EPILOG = f"""\
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

{ENV_HELP}
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
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="with --restart: SIGKILL after this long (default 10s)",
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
    setup_logging(args, url_secrets(args.webhook))
    if not argv:
        return fail("run", "no command: kubereload run [options] -- CMD [ARGS...]")
    paths = [*args.dir, *args.file]
    names = [str(p) for p in paths]
    telemetry = Telemetry(unready_on_failure=args.unready_on_failure)
    supervisor = Supervisor(argv, stop_signal=args.stop_signal, stop_timeout=args.stop_timeout)
    child_reload = ChildReload(supervisor, args.reload_signal, restart=args.restart)
    try:
        pipeline = build_pipeline(args, telemetry, names, extra_actions=[child_reload])
    except ValueError as exc:
        return fail("run", str(exc))
    try:
        api_sync = None
        if args.configmap or args.secret:  # the API writes into --dir; loads the kube client
            from kubereload.cli.sync import start_api_sync  # noqa: PLC0415

            api_sync = start_api_sync(args)
    except ValueError as exc:
        return fail("run", str(exc))
    try:
        server = start_server(args, telemetry)
    except (OSError, ValueError) as exc:
        return fail("run", f"--listen {args.listen}: {exc}")
    try:
        supervisor.start()
    except OSError as exc:
        log.error("cannot start %s: %s", argv[0], exc.strerror or exc)
        return 127
    telemetry.health.add_probe(
        "live", "child", lambda: None if supervisor.pid is not None else "the child is not running"
    )
    sources = None
    if paths:
        pipeline.start()
        sources = WatchedSources(paths, pipeline, telemetry)
        sources.start()
        if args.initial_reload:
            pipeline.submit(*names)
    try:
        return supervisor.run()
    finally:
        if sources is not None:
            sources.close()
        if api_sync is not None:
            api_sync.close()
        pipeline.close(timeout=2)
        if server is not None:
            server.close()

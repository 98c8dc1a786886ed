"""``kubereload watch``: the sidecar that reloads another program when its config changes."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from kubereload.cli.env import apply_env
from kubereload.cli.flags import add_action_flags, add_service_flags, add_source_flags
from kubereload.cli.logs import setup_logging
from kubereload.cli.options import log_secrets, sidecar_options
from kubereload.cli.stop import StopSignal
from kubereload.cli.usage import fail
from kubereload.sidecar import Sidecar

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  # nginx in the same pod (shareProcessNamespace: true): test the config, then HUP the master
  kubereload watch --dir /etc/nginx/conf.d --validate 'nginx -t' --signal HUP --process-name nginx

  # Prometheus: POST /-/reload, retried with back-off; metrics and health on :9533
  kubereload watch --dir /etc/prometheus --webhook http://127.0.0.1:9090/-/reload --listen :9533

  # several volumes, one reload per update; a token read from a mounted Secret at each call
  kubereload watch --dir /config/a --dir /config/b --webhook https://localhost:8443/reload \\
      --webhook-bearer-token-file /var/run/secrets/reload/token --webhook-ca-file /ca/ca.crt

  # the same from the environment (as in a container spec)
  KUBERELOAD_DIR=/etc/app KUBERELOAD_EXEC='/bin/app-reload --quiet' kubereload watch

Only real content changes count: a touch, or the kubelet re-projecting equal data, does nothing.
A failed --validate keeps the program on its current config and logs why; the next good change
reloads. Exit: 0 on SIGTERM/SIGINT, 2 on a usage error.
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "watch",
        help="sidecar: on a config change, validate then webhook / signal / exec",
        description="Watch mounted ConfigMap/Secret volumes (or any files) and, on a real "
        "content change, validate the new config and reload a program that does not watch its "
        "own: by HTTP call, signal or command.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_flags(parser)
    add_action_flags(parser)
    add_service_flags(parser)
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    stop = StopSignal()
    setup_logging(args.log_format, args.log_level, log_secrets(args))
    if not (args.dir or args.file):
        return fail("watch", "nothing to watch: give --dir or --file (or KUBERELOAD_DIR)")
    try:
        sidecar = Sidecar(sidecar_options(args))
    except ValueError as exc:
        return fail("watch", str(exc))
    if not sidecar.actions:
        return fail("watch", "no reload action: give --webhook, --signal or --exec")
    for action in sidecar.actions:
        log.info("on change: %s", action.describe())
    try:
        sidecar.serve_status()
    except (OSError, ValueError) as exc:
        return fail("watch", f"--listen {args.listen}: {exc}")
    sidecar.start()
    try:
        stop.wait()
    finally:
        sidecar.close()
    return 0

"""``kubereload demo``: serve ``message`` from a hot-reloaded config; ``set`` and ``show`` it."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from kubereload.cli.values import port
from kubereload.config import ConfigError, build_loader
from kubereload.demo.server import DemoServer, validate, watch_api
from kubereload.demo.volume import (
    CONFIG_FILE,
    DemoVolumeError,
    check_owned,
    default_dir,
    is_kubelet_volume,
    open_for_update,
    open_or_create,
    parse_assignments,
    reset,
    set_keys,
)
from kubereload.volume import SnapshotError, read_snapshot

USAGE = """\
kubereload demo [--config-dir DIR | --configmap NAME] [--host HOST] [--port PORT]
       kubereload demo set KEY=VALUE [KEY=VALUE ...] [--config-dir DIR]
       kubereload demo show [--config-dir DIR]
       kubereload demo reset [--config-dir DIR]"""

DESCRIPTION = """\
A tiny web service that hot-reloads its config: GET / answers with `message`
from config.yaml, and a change shows up without a restart.

With no --config-dir it serves from a simulated ConfigMap volume on local disk
(written exactly as the kubelet writes one) and prints how to change it.
With --config-dir it serves from that directory, e.g. a mounted ConfigMap.
With --configmap it reads config.yaml of that ConfigMap straight from the API
server (in a pod: its service account; see deploy/in-app/ and docs/in-app.md)."""

EPILOG = """\
examples:
  kubereload demo                               # start; then, in another terminal:
  curl http://127.0.0.1:8080/
  kubereload demo set message="Hello Grandma"   # a new version, as the kubelet writes it
  curl http://127.0.0.1:8080/                   # -> Hello Grandma
  kubereload demo set message='[1, 2]'          # rejected: the old message stays
  kubereload demo show                          # the volume's version and config.yaml
  kubereload demo reset                         # back to the first message (a new version)

  kubereload demo --port 0                      # any free port (printed on start)
  kubereload demo --config-dir /etc/demo --host 0.0.0.0   # in a pod: see deploy/demo/
  kubereload demo --configmap demo-config --host 0.0.0.0  # from the API: deploy/in-app/

endpoints: GET / (the message; header X-Config-Version), GET /healthz"""

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="a web service that hot-reloads its ConfigMap-style config (try it first)",
        usage=USAGE,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="serve config.yaml from DIR (a mounted ConfigMap) instead of the simulated volume",
    )
    parser.add_argument(
        "--configmap",
        metavar="NAME",
        help="serve config.yaml of this ConfigMap, read straight from the API server",
    )
    parser.add_argument(
        "--namespace", metavar="NS", help="with --configmap (default: the pod's own namespace)"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="with --configmap (default: $KUBECONFIG, the service account, ~/.kube/config)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port",
        type=port,
        default=8080,
        help="port to listen on; 0 picks a free one (%(default)s)",
    )
    parser.set_defaults(handler=serve)

    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    set_parser = actions.add_parser(
        "set",
        prog="kubereload demo set",
        help="change keys of config.yaml in the simulated volume (a new version, atomically)",
        description=(
            "Change keys of config.yaml in the simulated ConfigMap volume, the way the kubelet "
            "updates a mounted ConfigMap: a new version behind one atomic ..data swap. Values "
            "are read as YAML, so port=8080 is a number and debug=true a boolean."
        ),
        epilog='example: kubereload demo set message="Hello Grandma" greeting_count=3',
    )
    set_parser.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    _config_dir_option(set_parser)
    set_parser.set_defaults(handler=set_command)

    show_parser = actions.add_parser(
        "show",
        prog="kubereload demo show",
        help="print the volume's current version and config.yaml",
        description="Print where the demo's config is, its version, and config.yaml.",
    )
    _config_dir_option(show_parser)
    show_parser.set_defaults(handler=show_command)

    reset_parser = actions.add_parser(
        "reset",
        prog="kubereload demo reset",
        help="write the demo's first config.yaml again (a new version, atomically)",
        description=(
            "Write the demo's first config.yaml again as a new version of the simulated volume, "
            "e.g. after a rejected `set`; a running demo picks it up at once."
        ),
    )
    _config_dir_option(reset_parser)
    reset_parser.set_defaults(handler=reset_command)


def _config_dir_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an unset option here must not hide `kubereload demo --config-dir DIR set ...`.
    parser.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the volume to use (default: the simulated one, $TMPDIR/kubereload-demo-<uid>)",
    )


def _fail(message: str) -> int:
    print(f"kubereload demo: {message}", file=sys.stderr)
    return 1


def _setup_logging() -> None:
    # The library's own warnings and rejections show; its per-update info line would repeat ours.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for name in (__name__, DemoServer.__module__):  # the demo's own lines
        logging.getLogger(name).setLevel(logging.INFO)


def serve(args: argparse.Namespace) -> int:
    _setup_logging()
    if args.configmap is not None:
        return _serve_api(args)
    if args.namespace is not None or args.kubeconfig is not None:
        return _fail("--namespace and --kubeconfig go with --configmap")
    simulated = args.config_dir is None
    config_dir: Path = default_dir() if simulated else args.config_dir
    created = False
    if simulated:
        try:
            created = open_or_create(config_dir)
        except DemoVolumeError as exc:
            return _fail(str(exc))
    try:
        server = DemoServer(config_dir, args.host, args.port)
    except ConfigError as exc:
        return _fail(f"cannot load {config_dir / CONFIG_FILE}: {exc}")
    except OSError as exc:
        hint = "; try --port 0 for a free port" if args.port else ""
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}{hint}")
    _print_banner(server, config_dir, simulated, created, args.host)
    return _run(server)


def _serve_api(args: argparse.Namespace) -> int:
    if args.config_dir is not None:
        return _fail("give --config-dir or --configmap, not both")
    try:
        config = watch_api(args.configmap, namespace=args.namespace, kubeconfig=args.kubeconfig)
    except (ConfigError, ValueError) as exc:
        return _fail(f"cannot load config.yaml of ConfigMap {args.configmap}: {exc}")
    try:
        server = DemoServer(None, args.host, args.port, config=config)
    except OSError as exc:
        config.close()
        hint = "; try --port 0 for a free port" if args.port else ""
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}{hint}")
    url = f"http://{_reachable(args.host)}:{server.port}/"
    print(
        "\n".join(
            [
                f"kubereload demo: serving {url}",
                f"  config:  {config.source} (straight from the API server)",
                f"  version: {config.version} (resourceVersion), watched with {config.mode}",
                f"  message: {server.message}",
                "",
                "Try it from another terminal:",
                f"  curl {url}",
                f"  kubectl patch configmap {args.configmap} --type merge "
                + shlex.quote('-p={"data": {"config.yaml": "message: Hello Grandma\\n"}}'),
                f"  curl {url}                # within milliseconds, no kubelet delay",
                "Ctrl-C to stop.",
            ]
        ),
        flush=True,
    )
    return _run(server)


def _run(server: DemoServer) -> int:
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    # Explicit handlers: as PID 1 in a container, a signal without one is ignored.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
    print("kubereload demo: stopped", flush=True)
    return 0


def _print_banner(
    server: DemoServer, config_dir: Path, simulated: bool, created: bool, host: str
) -> None:
    shown_host = _reachable(host)
    url = f"http://{shown_host}:{server.port}/"
    if simulated:
        kind = "a simulated ConfigMap volume, " + ("new" if created else "reused")
    elif is_kubelet_volume(config_dir):
        kind = "a ConfigMap-style volume"
    else:
        kind = "a plain directory"
    lines = [
        f"kubereload demo: serving {url}"
        + ("" if shown_host == host else f" (listening on {host}:{server.port})"),
        f"  config:  {config_dir / CONFIG_FILE} ({kind})",
        f"  version: {server.config.version}, watched with {server.config.mode}",
        f"  message: {server.message}",
        *_startup_problem(server, config_dir, simulated),
        "",
        "Try it from another terminal:",
        f"  curl {url}",
    ]
    where = "" if simulated else f" --config-dir {shlex.quote(str(config_dir))}"
    writable = simulated or _writable_volume(config_dir)
    if writable:
        lines += [
            f"  kubereload demo set{where} message={shlex.quote('Hello Grandma')}",
            f"  curl {url}",
            "A bad update is rejected and the old message stays:",
            f"  kubereload demo set{where} message='[1, 2]'",
        ]
    else:
        lines += [
            "Change the ConfigMap (e.g. kubectl edit configmap kubereload-demo); the kubelet",
            "delivers it within about a minute, and this log says `config updated`.",
        ]
    lines.append("Ctrl-C to stop.")
    print("\n".join(lines), flush=True)


def _startup_problem(server: DemoServer, config_dir: Path, simulated: bool) -> list[str]:
    """What the banner says when the volume's config.yaml was rejected at start."""
    if server.startup_error is None:
        return []
    where = "" if simulated else f" --config-dir {shlex.quote(str(config_dir))}"
    return [
        f"  rejected: {server.startup_error}",
        "           serving the demo's default message until a good version arrives;",
        f"           fix it with `kubereload demo set{where} message=...`, "
        f"or `kubereload demo reset{where}`",
    ]


def _reachable(host: str) -> str:
    """The address to show in URLs: a wildcard such as 0.0.0.0 is reached as 127.0.0.1."""
    try:
        wildcard = host == "" or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return host
    return "127.0.0.1" if wildcard else host


def _writable_volume(config_dir: Path) -> bool:
    try:
        open_for_update(config_dir)
    except DemoVolumeError:
        return False
    return True


def _target(args: argparse.Namespace) -> Path:
    config_dir: Path | None = getattr(args, "config_dir", None)
    return default_dir() if config_dir is None else config_dir


def set_command(args: argparse.Namespace) -> int:
    config_dir = _target(args)
    try:
        values = parse_assignments(args.assignments)
        if getattr(args, "config_dir", None) is None and config_dir.is_dir():
            check_owned(config_dir)
        volume = open_for_update(config_dir)
        version, problem = set_keys(volume, values)
    except DemoVolumeError as exc:
        return _fail(str(exc))
    if problem is not None:
        print(f"note: the old {problem}; it is replaced by the keys given")
    if version is None:
        print(f"no change: {config_dir / CONFIG_FILE} already has these values")
    else:
        keys = ", ".join(values)
        print(f"{config_dir / CONFIG_FILE}: set {keys} (new version {version})")
    return 0


def show_command(args: argparse.Namespace) -> int:
    source = _target(args) / CONFIG_FILE
    try:
        snapshot = read_snapshot(source)
    except SnapshotError as exc:
        hint = (
            "; start `kubereload demo` first" if getattr(args, "config_dir", None) is None else ""
        )
        return _fail(f"cannot read {source}: {exc}{hint}")
    print(f"# {source} (version {snapshot.version})")
    try:
        build_loader(source, validate, None, None)(snapshot)
    except ConfigError as exc:
        print(f"# REJECTED by the demo: {exc}")
        print("# the demo serves the last good version (or its default) instead;")
        print("# `kubereload demo set message=...` or `kubereload demo reset` fixes it")
    sys.stdout.write(snapshot.files[CONFIG_FILE].decode("utf-8", errors="replace"))
    sys.stdout.flush()
    return 0


def reset_command(args: argparse.Namespace) -> int:
    config_dir = _target(args)
    try:
        if getattr(args, "config_dir", None) is None and config_dir.is_dir():
            check_owned(config_dir)
        volume = open_for_update(config_dir)
        version = reset(volume)
    except DemoVolumeError as exc:
        return _fail(str(exc))
    if version is None:
        print(f"no change: {config_dir / CONFIG_FILE} already holds the demo's first config")
    else:
        print(f"{config_dir / CONFIG_FILE}: reset to the first config (new version {version})")
    return 0

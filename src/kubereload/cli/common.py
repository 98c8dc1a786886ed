"""Flags and set-up shared by the reloading commands (``watch``, ``run``, ``sync``).

Every flag can also come from the environment: ``--webhook-timeout`` reads
``KUBERELOAD_WEBHOOK_TIMEOUT``; a flag given on the command line wins. Repeatable flags take
several values from one variable, one per line (or comma-separated when there is no line break);
switches take ``1/true/yes/on`` or ``0/false/no/off``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kubereload.actions import (
    Action,
    Command,
    Exec,
    Observer,
    ReloadPipeline,
    Signal,
    Validate,
    Webhook,
    WebhookConfig,
    parse_expect,
    parse_header,
    parse_signal,
)
from kubereload.actions.redact import scrub
from kubereload.cli.telemetry import Telemetry
from kubereload.server import StatusServer, parse_listen

ENV_PREFIX = "KUBERELOAD_"
MIN_SCRUBBED = 4  # shortest secret the log filter masks
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")

ENV_HELP = (
    "Every flag also reads KUBERELOAD_<FLAG> (e.g. --webhook-timeout -> "
    "KUBERELOAD_WEBHOOK_TIMEOUT); the command line wins. Repeatable flags: one value per line "
    "(or comma-separated if there is no line break). Switches: 1/true/yes or 0/false/no. "
    "Durations: 500ms, 2s, 1m, 1m30s (a bare number is seconds)."
)


# -- value types -----------------------------------------------------------------------------


def help_text(docstring: str | None) -> str:
    """A module docstring as ``--help`` text: reST's double backquotes read as plain quotes."""
    return (docstring or "").replace("``", "`")


def duration(text: str) -> float:
    """``"500ms"`` -> 0.5, ``"1m30s"`` -> 90.0, ``"2"`` -> 2.0 (seconds)."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(value) or not value:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a duration (e.g. 500ms, 2s, 1m)"
            ) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration cannot be negative")
    return seconds


def signal_type(text: str) -> signal.Signals:
    try:
        return parse_signal(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


header_type = _checked(parse_header)
expect_type = _checked(parse_expect)


# -- ordered, env-aware repeatable flags -----------------------------------------------------


class Repeat(argparse.Action):
    """Like ``append``, but values from the command line replace the environment's, and the
    order of the reload actions across flags is remembered (they run in the order given)."""

    def __init__(self, *args: Any, ordered: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("default", [])
        super().__init__(*args, **kwargs)
        self.ordered = ordered

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:
            current = []
        setattr(namespace, self.dest, [*current, values])
        if self.ordered:
            order = getattr(namespace, "action_order", None) or []
            namespace.action_order = [*order, (self.dest, values)]


class OrderedStore(argparse.Action):
    """A single-valued flag whose position among the reload actions is remembered."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        order = getattr(namespace, "action_order", None) or []
        namespace.action_order = [*order, (self.dest, values)]


def env_name(action: argparse.Action) -> str | None:
    longs = [o for o in action.option_strings if o.startswith("--")]
    if not longs:
        return None
    return ENV_PREFIX + longs[0][2:].upper().replace("-", "_")


def _env_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError("expected 1/true/yes/on or 0/false/no/off")


def apply_env(parser: argparse.ArgumentParser, environ: dict[str, str] | None = None) -> None:
    """Make ``KUBERELOAD_<FLAG>`` the default of each flag of ``parser``.

    A bad value stops with the variable's name and the reason, never the value (it may be a
    URL with a password in it).
    """
    env = os.environ if environ is None else environ
    for action in parser._actions:
        name = env_name(action)
        if name is None or name not in env or action.dest in ("help", "version"):
            continue
        raw = env[name]
        try:
            if isinstance(action, argparse._StoreTrueAction):
                value: Any = _env_bool(raw)
            elif isinstance(action, Repeat):
                items = raw.splitlines() if "\n" in raw else raw.split(",")
                convert = action.type or str
                value = [convert(i.strip()) for i in items if i.strip()]  # type: ignore[operator]
            else:
                convert = action.type or str
                value = convert(raw.strip())  # type: ignore[operator]
                if action.choices is not None and value not in action.choices:
                    raise argparse.ArgumentTypeError(f"must be one of {', '.join(action.choices)}")
        except (argparse.ArgumentTypeError, ValueError) as exc:
            message = str(exc) if name not in _SECRET_BEARING else "invalid value"
            parser.error(f"environment variable {name}: {message}")
        action.default = value
        action.required = False


_SECRET_BEARING = {"KUBERELOAD_WEBHOOK", "KUBERELOAD_WEBHOOK_HEADER"}


# -- the flag groups -------------------------------------------------------------------------


def add_source_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sources (repeatable; a directory, or a single file)")
    group.add_argument(
        "--dir",
        action=Repeat,
        type=Path,
        metavar="DIR",
        help="a mounted ConfigMap/Secret volume or any directory to watch",
    )
    group.add_argument(
        "--file",
        action=Repeat,
        type=Path,
        metavar="FILE",
        help="one file to watch (its directory is watched, as it must be)",
    )


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
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="kill --validate after this long, and count it failed (default 60s)",
    )
    group.add_argument(
        "--webhook",
        action=Repeat,
        ordered=True,
        metavar="URL",
        help="call this URL (repeatable; credentials in it are never logged)",
    )
    group.add_argument(
        "--webhook-method", default="POST", metavar="METHOD", help="HTTP method (default POST)"
    )
    group.add_argument(
        "--webhook-header",
        action=Repeat,
        type=header_type,
        metavar="'K: V'",
        help="extra request header (repeatable)",
    )
    group.add_argument(
        "--webhook-bearer-token-file",
        type=Path,
        metavar="FILE",
        help="send 'Authorization: Bearer <file content>'; re-read on each call",
    )
    group.add_argument(
        "--webhook-basic-auth-file",
        type=Path,
        metavar="FILE",
        help="file holding 'user:password' for basic auth; re-read on each call",
    )
    group.add_argument(
        "--webhook-ca-file",
        type=Path,
        metavar="FILE",
        help="CA bundle to verify an https:// webhook",
    )
    group.add_argument(
        "--webhook-timeout",
        type=duration,
        default=5.0,
        metavar="DURATION",
        help="per attempt (default 5s)",
    )
    group.add_argument(
        "--webhook-expect",
        type=expect_type,
        default=[],
        metavar="CODES",
        help="status codes that mean success, e.g. 200,204 (default any 2xx)",
    )
    group.add_argument(
        "--webhook-retries",
        type=int,
        default=4,
        metavar="N",
        help="retries after a timeout, connection error, 429 or 5xx (default 4)",
    )
    group.add_argument(
        "--webhook-backoff",
        type=duration,
        default=0.2,
        metavar="DURATION",
        help="first retry delay, doubling each time, with jitter (default 200ms)",
    )
    group.add_argument(
        "--webhook-backoff-max",
        type=duration,
        default=5.0,
        metavar="DURATION",
        help="longest retry delay (default 5s)",
    )
    group.add_argument(
        "--signal",
        action=OrderedStore,
        type=signal_type,
        metavar="SIG",
        help="send SIG (HUP, USR1, ...) to the process given by one of:",
    )
    group.add_argument("--pid", type=int, help="  ... this pid")
    group.add_argument(
        "--pid-file", type=Path, metavar="FILE", help="  ... the pid in FILE (read at each reload)"
    )
    group.add_argument(
        "--process-name",
        metavar="NAME",
        help="  ... the process called NAME (shareProcessNamespace: true)",
    )
    group.add_argument(
        "--exec",
        action=Repeat,
        ordered=True,
        metavar="CMD",
        help="run CMD (split like a shell would, but no shell); repeatable",
    )
    group.add_argument(
        "--exec-shell",
        action="store_true",
        help="run --exec and --validate with /bin/sh -c (pipes, $VARS, &&)",
    )
    group.add_argument(
        "--exec-timeout",
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="kill an --exec command after this long (default 60s)",
    )
    group.add_argument("--initial-reload", action="store_true", help="also reload once at start")
    group.add_argument(
        "--jitter",
        type=duration,
        default=0.0,
        metavar="DURATION",
        help="wait a random time up to this before reloading, so replicas do not "
        "reload at once (default 0)",
    )
    group.add_argument(
        "--coalesce",
        type=duration,
        default=0.1,
        metavar="DURATION",
        help="with several sources, wait up to this for the others to change too, "
        "so one update reloads once (default 100ms)",
    )


def add_service_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("health, metrics and logs")
    group.add_argument(
        "--listen", metavar="ADDR", help="serve /healthz, /readyz and /metrics here (e.g. :9090)"
    )
    group.add_argument(
        "--unready-on-failure",
        action="store_true",
        help="fail /readyz while the last reload failed",
    )
    group.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="default text"
    )
    group.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="default info",
    )


# -- logging ---------------------------------------------------------------------------------


class _Scrub(logging.Filter):
    """Last line of defence: known secrets are masked in every record, whatever logged them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = scrub(record.getMessage(), self.secrets)
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = scrub(
                    logging.Formatter().formatException(record.exc_info), self.secrets
                )
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def setup_logging(args: argparse.Namespace, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(_Scrub(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(args.log_level.upper())


# -- building the pieces ---------------------------------------------------------------------


def url_secrets(urls: Iterable[str]) -> list[str]:
    """The parts of webhook URLs that must never be shown: user, password, query values."""
    found: list[str] = []
    for url in urls:
        try:
            parts = urlsplit(url)
            found += [p for p in (parts.username, parts.password) if p]
            found += [v for _, v in parse_qsl(parts.query)]
        except ValueError:
            found.append(url)
    # Shorter strings would mask ordinary words everywhere; URLs are redacted structurally anyway.
    return [s for s in found if len(s) >= MIN_SCRUBBED]


def build_actions(args: argparse.Namespace, observer: Observer) -> list[Action]:
    """The reload actions, in the order given on the command line (then env-only ones)."""
    if args.signal is None and (args.pid or args.pid_file or args.process_name):
        raise ValueError("--pid, --pid-file and --process-name need --signal")
    order: list[tuple[str, Any]] = list(getattr(args, "action_order", None) or [])
    given = {dest for dest, _ in order}
    for dest in ("webhook", "signal", "exec"):
        value = getattr(args, dest)
        if dest not in given and value:
            order += [(dest, v) for v in value] if isinstance(value, list) else [(dest, value)]
    actions: list[Action] = []
    for dest, value in order:
        if dest == "webhook":
            config = WebhookConfig(
                url=value,
                method=args.webhook_method.upper(),
                headers=dict(args.webhook_header),
                bearer_token_file=args.webhook_bearer_token_file,
                basic_auth_file=args.webhook_basic_auth_file,
                ca_file=args.webhook_ca_file,
                timeout=args.webhook_timeout,
                expect=[c for codes in [args.webhook_expect] for c in codes],
                retries=max(0, args.webhook_retries),
                backoff=args.webhook_backoff,
                backoff_max=args.webhook_backoff_max,
            )
            actions.append(Webhook(config, observer))
        elif dest == "signal":
            actions.append(
                Signal(value, pid=args.pid, pid_file=args.pid_file, process_name=args.process_name)
            )
        else:
            command = Command(value, shell=args.exec_shell, timeout=args.exec_timeout)
            actions.append(Exec(command))
    return actions


def build_pipeline(
    args: argparse.Namespace,
    telemetry: Telemetry,
    sources: Sequence[str],
    extra_actions: Sequence[Action] = (),
) -> ReloadPipeline:
    validate = None
    if args.validate:
        validate = Validate(
            Command(args.validate, shell=args.exec_shell, timeout=args.validate_timeout)
        )
    actions = [*build_actions(args, telemetry), *extra_actions]
    pipeline = ReloadPipeline(
        actions,
        validate=validate,
        observer=telemetry,
        sources=sources,
        coalesce=args.coalesce,
        jitter=args.jitter,
    )
    telemetry.health.add_probe(
        "live", "reloader", lambda: None if pipeline.is_alive() else "the reload worker stopped"
    )
    return pipeline


def start_server(args: argparse.Namespace, telemetry: Telemetry) -> StatusServer | None:
    if not args.listen:
        return None
    server = StatusServer(parse_listen(args.listen), telemetry.registry, telemetry.health)
    server.start()
    logging.getLogger("kubereload").info(
        "serving /healthz, /readyz, /metrics on %s:%d", server.server_address[0], server.port
    )
    return server


class StopSignal:
    """SIGTERM/SIGINT turned into an event the main thread waits on (install it first thing)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: signal.Signals | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum)
        self.event.set()

    def wait(self) -> None:
        while not self.event.wait(3600):
            pass
        name = self.received.name if self.received else "stop"
        logging.getLogger("kubereload").info("%s received: stopping", name)


def fail(command: str, message: str) -> int:
    """A usage error found after parsing: said like argparse says it, exit code 2."""
    print(f"kubereload {command}: error: {message}", file=sys.stderr)
    return 2


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
    group.add_argument("--configmap", action=Repeat, metavar="[NS/]NAME", help="repeatable")
    group.add_argument("--secret", action=Repeat, metavar="[NS/]NAME", help="repeatable")
    add_kube_flags(parser)

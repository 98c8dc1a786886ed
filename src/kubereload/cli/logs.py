"""Logging for the commands: text or JSON lines on stderr, known secrets masked in every record.

Uncaught exceptions, in any thread, go through logging too: a traceback printed raw on stderr
would break ``--log-format json`` and bypass the secret filter."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from types import TracebackType

from kubereload.actions.redact import scrub
from kubereload.cli.env import take_warnings


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


FIELDS = ("event", "source", "version", "duration_ms", "result", "object")
"""Structured fields a record may carry (``log.info(..., extra={"event": "reload", ...})``);
a JSON line has those it carries beside the message, for queries that need no parsing."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def setup_logging(log_format: str, log_level: str, secrets: Iterable[str] = ()) -> None:
    """Send every record to stderr as ``log_format`` ("text" or "json") from ``log_level`` up."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
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
    root.setLevel(log_level.upper())
    threading.excepthook = _log_thread_exception
    sys.excepthook = _log_exception
    for warning in take_warnings():
        logging.getLogger("kubereload.cli.env").warning("%s", warning)


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """A thread died of an exception: one record (JSON stays JSON, secrets are masked)."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("kubereload").error(
        "thread %s died of %s",
        name,
        args.exc_type.__name__,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )


def _log_exception(
    exc_type: type[BaseException], exc: BaseException, traceback: TracebackType | None
) -> None:
    """The main thread died of an exception: said through logging, like everything else."""
    if issubclass(exc_type, KeyboardInterrupt):
        logging.getLogger("kubereload").info("interrupted")
        return
    logging.getLogger("kubereload").critical(
        "stopped by %s", exc_type.__name__, exc_info=(exc_type, exc, traceback)
    )

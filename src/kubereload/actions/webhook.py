"""``--webhook URL``: an HTTP call that tells the program to reload (Prometheus ``/-/reload``...).

No httpx or urllib: no dependency, nothing imported that the sidecar does not use (start-up
time and memory), full control over the per-attempt deadline, and no proxy environment silently
rerouting a call meant for localhost. A plain ``http://`` target is called through
:mod:`kubereload.actions.http1` on a kept-alive connection; only an ``https://`` target loads
``ssl`` and stdlib ``http.client``.

Retries are bounded, with exponential back-off and jitter; a back-off wait ends early when a newer
change is already waiting (its reload will call again). Tokens and passwords are read from their
files at every attempt, so a rotated Secret is picked up, and never appear in what is logged.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit

from kubereload.actions import http1
from kubereload.actions.base import ActionError, Failure, NullObserver, Observer, ReloadContext
from kubereload.actions.redact import metric_target, redact_url, scrub
from kubereload.actions.spec import DELAY, FILE, REQUIRED, TIMEOUT, Value, count_within, option
from kubereload.backoff import Backoff
from kubereload.durations import check_seconds

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

MAX_RETRIES = 100
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_RETRIED = ", ".join(map(str, sorted(RETRYABLE_STATUS)))


def parse_header(value: str) -> tuple[str, str]:
    """``'Name: value'`` -> ``("Name", "value")``."""
    name, sep, rest = value.partition(":")
    name = name.strip()
    # Not quoted in errors: without its colon, the whole value (a token?) would be the "name".
    if not sep or not name or any(not (c.isascii() and c.isprintable()) or c == " " for c in name):
        raise ValueError("a --webhook-header is not 'Name: value' (a name, a colon, a value)")
    if "\n" in rest or "\r" in rest:
        raise ValueError(f"--webhook-header {name}: its value has a line break")
    return name, rest.strip()


def parse_expect(value: str) -> list[int]:
    """``"200,204"`` -> ``[200, 204]``."""
    codes = []
    for item in value.replace(" ", "").split(","):
        if not item:
            continue
        if not item.isdigit() or not 100 <= int(item) <= 599:
            raise ValueError(f"{item!r} is not an HTTP status code")
        codes.append(int(item))
    return codes


@dataclass(frozen=True)
class WebhookOptions:
    """One ``--webhook`` target and how to call it."""

    url: str = option(
        REQUIRED,
        "--webhook",
        "call this URL (repeatable; credentials in it are never logged)",
        Value("URL"),
        repeat=True,
        aliases=("--webhook-url", "--reload-url"),
    )
    method: str = option(
        "POST", "--webhook-method", "HTTP method (default POST)", Value("METHOD", str.upper)
    )
    headers: Mapping[str, str] = option(
        dict,
        "--webhook-header",
        "extra request header (repeatable)",
        Value("'K: V'", parse_header),
        repeat=True,
        collect=dict,
    )
    bearer_token_file: Path | None = option(
        None,
        "--webhook-bearer-token-file",
        "send 'Authorization: Bearer <file content>'; re-read on each call",
        FILE,
    )
    basic_auth_file: Path | None = option(  # one line: "user:password"
        None,
        "--webhook-basic-auth-file",
        "file holding 'user:password' for basic auth; re-read on each call",
        FILE,
    )
    ca_file: Path | None = option(
        None, "--webhook-ca-file", "CA bundle to verify an https:// webhook", FILE
    )
    timeout: float = option(5.0, "--webhook-timeout", "per attempt (default 5s)", TIMEOUT)
    expect: Sequence[int] = option(  # empty: any 2xx
        (),
        "--webhook-expect",
        "status codes that mean success, e.g. 200,204 (default any 2xx)",
        Value("CODES", parse_expect),
        aliases=("--webhook-status-code",),
    )
    retries: int = option(
        4,
        "--webhook-retries",
        f"retries after a timeout, a connection error or HTTP {_RETRIED} (default 4)",
        Value("N", count_within(0, MAX_RETRIES)),
    )
    backoff: float = option(
        0.2,
        "--webhook-backoff",
        "first retry delay, doubling each time, with jitter (default 200ms)",
        DELAY,
    )
    backoff_max: float = option(
        5.0, "--webhook-backoff-max", "longest retry delay (default 5s)", DELAY
    )

    def build(self, observer: Observer) -> Webhook:
        return Webhook(self, observer)


URL_FORM = (
    "http(s)://[user:password@]host[:port][/path]; in a user or password, "
    "write # / ? @ : as %23 %2F %3F %40 %3A"
)


def split_url(url: str) -> SplitResult:
    """The parts of a webhook URL; ValueError in our own words, never quoting the URL (it may
    hold a password, and an unencoded ``#``, ``/`` or ``?`` in one moves it out of the netloc)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise ValueError(f"a --webhook URL is not a valid URL: give {URL_FORM}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a --webhook URL must be http:// or https:// with a host: {URL_FORM}")
    if "@" in parts.path + parts.query + parts.fragment or parts.fragment:
        raise ValueError(
            f"a --webhook URL has '#' or an '@' after its host (a password not encoded?): "
            f"give {URL_FORM}"
        )
    return parts


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    import ssl  # noqa: PLC0415 - OpenSSL only for https targets

    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except ssl.SSLError:
        raise ValueError(f"--webhook-ca-file {ca_file}: holds no PEM certificate") from None
    except OSError as exc:
        raise ValueError(
            f"--webhook-ca-file {ca_file}: cannot read it ({exc.strerror or 'error'})"
        ) from None


def _read_secret_file(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ActionError(
            f"cannot read the {what} file {path}: {exc.strerror or exc}", reason="credentials"
        ) from None


class Webhook:
    """One webhook target."""

    kind = "webhook"

    def __init__(self, config: WebhookOptions, observer: Observer | None = None) -> None:
        parts = split_url(config.url)
        check_seconds("the webhook timeout", config.timeout, positive=True)
        check_seconds("the webhook back-off", config.backoff)
        check_seconds("the webhook's longest back-off", config.backoff_max)
        if not 0 <= config.retries <= MAX_RETRIES:
            raise ValueError(f"webhook retries must be 0 to {MAX_RETRIES}")
        self.config = config
        self.observer: Observer = observer or NullObserver()
        self.target = metric_target(config.url)
        self._shown = redact_url(config.url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""  # split_url refuses a URL without one
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._url_auth = None
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            self._url_auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._secrets = [s for s in (parts.username, parts.password, parts.query) if s]
        self._ssl: ssl.SSLContext | None = None
        self._plain: http1.Connection | None = None
        if self._scheme == "https":
            self._ssl = _tls_context(config.ca_file)
        else:
            if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in self._path):
                raise ValueError(f"webhook URL {self._shown} has a space or control character")
            self._plain = http1.Connection(self._host, self._port or 80)
        for path, flag in (
            (config.bearer_token_file, "--webhook-bearer-token-file"),
            (config.basic_auth_file, "--webhook-basic-auth-file"),
        ):
            if path is not None and not os.access(path, os.R_OK):
                raise ValueError(f"{flag} {path}: cannot read it")

    def describe(self) -> str:
        return f"webhook: {self.config.method} {self._shown}"

    @property
    def time_limit(self) -> float:
        """Every attempt timing out, with the longest back-off between them."""
        cfg = self.config
        return (cfg.retries + 1) * cfg.timeout + cfg.retries * cfg.backoff_max

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": "kubereload", "Content-Length": "0"}
        headers.update(self.config.headers)
        if self._url_auth:
            headers["Authorization"] = f"Basic {self._url_auth}"
        if self.config.basic_auth_file is not None:
            pair = _read_secret_file(self.config.basic_auth_file, "basic auth")
            if ":" not in pair:
                raise ActionError(
                    f"the basic auth file {self.config.basic_auth_file} is not 'user:password'",
                    reason="credentials",
                )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        if self.config.bearer_token_file is not None:
            token = _read_secret_file(self.config.bearer_token_file, "bearer token")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _attempt(self) -> tuple[int | None, str, str]:
        """One request: (status or None, error reason or "", message)."""
        cfg = self.config
        try:
            headers = self._headers()
            if self._plain is not None:
                status, why = self._plain.request(cfg.method, self._path, headers, cfg.timeout)
            else:
                status, why = self._attempt_https(headers)
            return status, "", f"HTTP {status} {why}"
        except TimeoutError:
            return None, "timeout", f"no answer within {cfg.timeout:g}s"
        except http1.ProtocolError as exc:
            return None, "connection", str(exc)
        except OSError as exc:
            if self._ssl is not None and _is_tls_error(exc):
                return None, "tls", f"TLS error: {getattr(exc, 'reason', None) or exc}"
            return None, "connection", f"{type(exc).__name__}: {exc}"

    def _attempt_https(self, headers: Mapping[str, str]) -> tuple[int, str]:
        import http.client  # noqa: PLC0415 - with ssl, only for https targets

        cfg = self.config
        deadline = time.monotonic() + cfg.timeout
        conn = http.client.HTTPSConnection(
            self._host, self._port, timeout=cfg.timeout, context=self._ssl
        )
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
            conn.request(cfg.method, self._path, headers=dict(headers))
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
            response = conn.getresponse()
            response.read(65536)
            return response.status, response.reason
        except http.client.HTTPException as exc:
            raise http1.ProtocolError(f"{type(exc).__name__}: {exc}") from None
        finally:
            conn.close()

    def run(self, context: ReloadContext) -> None:
        failure = self.first_attempt()
        if failure is not None:
            self.retry(context, failure)

    def first_attempt(self) -> Failure | None:
        """One request, never waiting beyond its timeout: None if it worked, else why, for
        :meth:`retry`; ActionError when no retry would help."""
        return self._call(0)

    def retry(self, context: ReloadContext, failure: Failure) -> None:
        """The retries after a first attempt that failed for ``failure``, with back-off; a newer
        change (``context.superseded``) ends the wait, since its reload calls again anyway."""
        backoff = Backoff(self.config.backoff, self.config.backoff_max)
        attempts = self.config.retries + 1
        for attempt in range(1, attempts):
            reason, message = failure
            delay = backoff.next()
            log.warning(
                "webhook %s: %s (attempt %d/%d); retrying in %.0f ms",
                self._shown,
                message,
                attempt,
                attempts,
                delay * 1000,
            )
            if context.superseded.wait(delay):
                raise ActionError(
                    f"webhook {self._shown}: {message}; not retried, a newer change is pending",
                    reason=reason,
                )
            next_failure = self._call(attempt)
            if next_failure is None:
                return
            failure = next_failure

    def _call(self, attempt: int) -> Failure | None:
        """Request number ``attempt`` (from 0): None if it worked, the failure if a retry may
        help, ActionError if it was the last or no retry would help."""
        cfg = self.config
        attempts = cfg.retries + 1
        started = time.monotonic()
        status, reason, message = self._attempt()
        elapsed = time.monotonic() - started
        message = scrub(message, self._secrets)
        if status is not None:
            good = status in cfg.expect if cfg.expect else 200 <= status < 300
            if good:
                self.observer.webhook_attempt(self.target, elapsed, None, status)
                log.debug("webhook %s: %s in %.1f ms", self._shown, message, elapsed * 1000)
                return None
            reason = "status"
            message = f"unexpected {message}"
            retry = status in RETRYABLE_STATUS
        else:
            retry = True
        self.observer.webhook_attempt(self.target, elapsed, reason, status)
        if not retry or attempt == attempts - 1:
            raise ActionError(
                f"webhook {self._shown}: {message} (attempt {attempt + 1}/{attempts})",
                reason=reason,
            )
        return reason, message


def _is_tls_error(exc: OSError) -> bool:
    import ssl  # noqa: PLC0415 - already loaded: only https targets get here

    return isinstance(exc, ssl.SSLError)

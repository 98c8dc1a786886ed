"""Keeping credentials out of logs, metric labels and error messages.

A URL may carry ``user:password@`` and tokens in its query string; what is shown keeps the
scheme, host, port, path and query keys, and replaces the rest with ``REDACTED``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "REDACTED"
MIN_SCRUBBED = 4  # shortest secret masked in free text


def redact_url(url: str) -> str:
    """``https://u:p@host/x?token=t`` -> ``https://REDACTED@host/x?token=REDACTED``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK  # unparseable: show nothing rather than risk a secret
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{netloc}"
    query = "&".join(f"{key}={MASK}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def metric_target(url: str) -> str:
    """The label value for a URL: scheme, host, port and path only."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (longest first) in ``text``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def url_secrets(urls: Iterable[str]) -> list[str]:
    """The parts of URLs that must never be shown in free text: user, password, query values."""
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

"""The flag names of the tools kubereload replaces, so switching to it is an image swap.

configmap-reload's and prometheus-config-reloader's names are declared beside kubereload's own
(``--volume-dir`` with ``--dir``, ...); docs/sidecar.md has the table. This module only lets
Go's one-dash spelling of them through.
"""

from __future__ import annotations

GO_STYLE = frozenset(
    {
        "volume-dir",
        "webhook-url",
        "webhook-method",
        "webhook-status-code",
        "webhook-retries",
        "web.listen-address",
        "web.telemetry-path",
    }
)
"""configmap-reload's flags, which Go lets users spell with one dash (``-volume-dir=/x``)."""


def go_style(argv: list[str]) -> list[str]:
    """``-volume-dir=/x`` read as ``--volume-dir=/x``, so a configmap-reload container's args
    work unchanged (up to a ``--``, after which the arguments are a child's)."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return [*out, *argv[index:]]
        name = arg[1:].split("=", 1)[0]
        out.append("-" + arg if arg[:1] == "-" and arg[1:2] != "-" and name in GO_STYLE else arg)
    return out

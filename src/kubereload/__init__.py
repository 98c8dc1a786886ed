"""kubereload: hot-reload configuration from Kubernetes ConfigMaps and Secrets.

config = kubereload.watch("/etc/config/app.yaml")
config.get()   # the current, validated value; never blocks, never half-updated
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

from kubereload.config import (
    MISSING,
    Config,
    ConfigError,
    FileSource,
    Parser,
    build_loader,
    changed_keys,
)
from kubereload.volume import Snapshot

__version__ = "0.1.0"
T = TypeVar("T")


@overload
def watch(
    path: str | os.PathLike[str],
    *,
    model: type[T] | Callable[[Any], T],
    format: str | None = None,
    parser: Parser | None = None,
    default: T = ...,
    poll: bool = False,
    poll_interval: float = 1.0,
) -> Config[T]: ...


@overload
def watch(
    path: str | os.PathLike[str],
    *,
    model: None = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = ...,
    poll: bool = False,
    poll_interval: float = 1.0,
) -> Config[Any]: ...


def watch(
    path: str | os.PathLike[str],
    *,
    model: Any = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = MISSING,
    poll: bool = False,
    poll_interval: float = 1.0,
) -> Config[Any]:
    """Load ``path`` now and keep it current as the ConfigMap or Secret behind it changes.

    - ``path``: one file (parsed by its extension or ``format``), or a directory (a mapping of
      file name to parsed content, one entry per key of the ConfigMap/Secret).
    - ``model``: a pydantic model class or any callable that validates the parsed data and returns
      the value to serve; an update that fails it is rejected and the last good value stays.
    - ``format``: ``yaml``, ``json``, ``toml``, ``ini``, ``properties``, ``dotenv``, ``text``,
      ``bytes`` or ``auto``; ``parser``: your own ``bytes -> value`` function instead.
    - ``default``: served (with ``error`` set) if the first load fails, instead of raising.
    - ``poll``: poll every ``poll_interval`` seconds instead of using inotify (kubereload falls
      back to polling by itself where inotify is unavailable or the file system is remote).

    Raises :class:`ConfigError` when the first load fails and no ``default`` is given.
    """
    source = Path(path).absolute()
    if format is not None and parser is not None:
        raise ValueError("give format= or parser=, not both")
    loader = build_loader(source, model, format, parser)
    return Config(
        FileSource(source, poll=poll, poll_interval=poll_interval), loader, default=default
    )


__all__ = ["Config", "ConfigError", "Snapshot", "changed_keys", "watch"]

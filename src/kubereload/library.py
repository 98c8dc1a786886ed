"""The library's entry points: ``kubereload.watch``, ``watch_configmap``, ``watch_secret``.

Kept out of the package's ``__init__`` so that the sidecars, which never call them, do not load
the formats (PyYAML) and the config store they need.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from kubereload.config import (
    DEFAULT_LIMITS,
    MISSING,
    Config,
    FileSource,
    Limits,
    Parser,
    build_loader,
)
from kubereload.watch.detector import check_poll_interval

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
    limits: Limits = DEFAULT_LIMITS,
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
    limits: Limits = DEFAULT_LIMITS,
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
    limits: Limits = DEFAULT_LIMITS,
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
    - ``limits``: what one version may cost (:class:`Limits`: file and volume size, nesting,
      YAML alias expansion); a version over a limit is rejected like any invalid one.

    Raises :class:`ConfigError` when the first load fails and no ``default`` is given, and
    ValueError at once for arguments that can never work (an unknown format, a poll interval
    that is not a positive, finite number of seconds).
    """
    where = Path(path).absolute()
    if format is not None and parser is not None:
        raise ValueError("give format= or parser=, not both")
    if not isinstance(limits, Limits):
        raise TypeError("limits must be a kubereload.Limits")
    check_poll_interval(poll_interval)
    loader = build_loader(where, model, format, parser, limits)  # checks the format first
    source = FileSource(where, poll=poll, poll_interval=poll_interval, limits=limits)
    loader.is_directory = source.is_directory
    return Config(source, loader, default=default)


@overload
def watch_configmap(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: type[T] | Callable[[Any], T],
    format: str | None = None,
    parser: Parser | None = None,
    default: T = ...,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[T]: ...


@overload
def watch_configmap(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: None = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = ...,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[Any]: ...


def watch_configmap(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: Any = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = MISSING,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[Any]:
    """Load the ConfigMap ``name`` from the API server now and keep it current, without the
    kubelet's delay: the same :class:`Config` as :func:`watch` gives for a mounted file.

    - ``key``: serve this one key, parsed by its extension (``app.yaml``) or ``format``; without
      it, a mapping of every key to its parsed content, as for a mounted directory.
    - ``namespace``: defaults to the pod's own (from its service account), or the kubeconfig
      context's namespace outside a cluster.
    - ``model``, ``format``, ``parser``, ``default``: as for :func:`watch`. ``version`` is the
      object's resourceVersion.
    - ``deleted``: when the object is deleted, the last good value stays and ``error`` says so;
      ``"error"`` also makes :meth:`Config.health` fail (a readiness probe takes the pod out).
    - ``kubeconfig``, ``context``: the credentials, found as by every kubereload command
      (``$KUBECONFIG``, else the in-cluster service account, else ``~/.kube/config``).
    - ``timeout``: how long the first load waits for the API server.
    - ``limits``: what one version may cost, as for :func:`watch`.

    Needs ``get``, ``list`` and ``watch`` on this one object (a Role with ``resourceNames``;
    see docs/in-app.md). Raises :class:`ConfigError` when the first load fails and no
    ``default`` is given, or when no cluster configuration is found.
    """
    from kubereload.apisource import watch_object  # noqa: PLC0415 - file users never load it

    return watch_object(
        "configmap",
        name,
        key=key,
        namespace=namespace,
        model=model,
        format=format,
        parser=parser,
        default=default,
        deleted=deleted,
        kubeconfig=kubeconfig,
        context=context,
        timeout=timeout,
        limits=limits,
    )


@overload
def watch_secret(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: type[T] | Callable[[Any], T],
    format: str | None = None,
    parser: Parser | None = None,
    default: T = ...,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[T]: ...


@overload
def watch_secret(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: None = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = ...,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[Any]: ...


def watch_secret(
    name: str,
    *,
    key: str | None = None,
    namespace: str | None = None,
    model: Any = None,
    format: str | None = None,
    parser: Parser | None = None,
    default: Any = MISSING,
    deleted: Literal["keep", "error"] = "keep",
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    timeout: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Config[Any]:
    """Load the Secret ``name`` from the API server now and keep it current: as
    :func:`watch_configmap`, for a Secret. Values never appear in logs or errors."""
    from kubereload.apisource import watch_object  # noqa: PLC0415 - file users never load it

    return watch_object(
        "secret",
        name,
        key=key,
        namespace=namespace,
        model=model,
        format=format,
        parser=parser,
        default=default,
        deleted=deleted,
        kubeconfig=kubeconfig,
        context=context,
        timeout=timeout,
        limits=limits,
    )


__all__ = ["watch", "watch_configmap", "watch_secret"]

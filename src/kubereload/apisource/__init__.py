"""The library's API source: a ``Config`` kept current straight from a ConfigMap or Secret.

Imported only by :func:`kubereload.watch_configmap` and :func:`kubereload.watch_secret`, so an
application that watches files never loads the Kubernetes client.
"""

from __future__ import annotations

import os
import re
from typing import Any

from kubereload.apisource.source import ApiSource, Deleted, Kind
from kubereload.config import Config, ConfigError, Limits, Parser
from kubereload.config.store import Loader, Validator
from kubereload.kube.config import KubeConfigError, load_config
from kubereload.kube.stdlib_client import StdlibClient

# DNS-1123 subdomain (object names) and the API's key alphabet.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def watch_object(
    kind: Kind,
    name: str,
    *,
    key: str | None,
    namespace: str | None,
    model: Validator | None,
    format: str | None,
    parser: Parser | None,
    default: Any,
    deleted: Deleted,
    kubeconfig: str | os.PathLike[str] | None,
    context: str | None,
    timeout: float,
    limits: Limits,
) -> Config[Any]:
    """Build the ``Config``; the public functions in :mod:`kubereload` document the arguments."""
    if not (len(name) <= 253 and _NAME.fullmatch(name)):
        raise ValueError(f"{kind} name {name!r} is not a valid object name")
    if key is not None and not (len(key) <= 253 and _KEY.fullmatch(key) and key not in (".", "..")):
        raise ValueError(f"key {key!r} is not a valid {kind} key")
    if namespace is not None and not (len(namespace) <= 63 and _NAME.fullmatch(namespace)):
        raise ValueError(f"namespace {namespace!r} is not a valid namespace name")
    if deleted not in ("keep", "error"):
        raise ValueError('deleted must be "keep" or "error"')
    if format is not None and parser is not None:
        raise ValueError("give format= or parser=, not both")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    try:
        cluster = load_config(kubeconfig, context)
        client = StdlibClient(cluster)
    except KubeConfigError as err:
        raise ConfigError(f"{kind} {name}: no cluster to read it from: {err}") from None
    source = ApiSource(
        kind,
        name,
        namespace=namespace or cluster.namespace,
        client=client,
        key=key,
        deleted=deleted,
        timeout=timeout,
    )
    single_key = key is not None
    if not isinstance(limits, Limits):
        raise TypeError("limits must be a kubereload.Limits")
    loader = Loader(
        lambda: not single_key, model=model, format=format, parser=parser, limits=limits
    )
    return Config(source, loader, default=default)


__all__ = ["ApiSource", "watch_object"]

"""kubereload: hot-reload configuration from Kubernetes ConfigMaps and Secrets.

config = kubereload.watch("/etc/config/app.yaml")
config.get()   # the current, validated value; never blocks, never half-updated

config = kubereload.watch_configmap("app-config", key="app.yaml")  # straight from the API

The names below are loaded on first use (PEP 562): importing any ``kubereload.*`` module, as the
``watch`` and ``run`` sidecars do, must not load the formats, PyYAML and the config store.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubereload.config import Config, ConfigError, Limits, changed_keys
    from kubereload.library import watch, watch_configmap, watch_secret
    from kubereload.volume import Snapshot
else:

    def watch(*args: Any, **kwargs: Any) -> Any:
        """Load ``path`` now and keep it current: ``kubereload.library.watch``."""
        from kubereload.library import watch as load_and_watch  # noqa: PLC0415 - on first use

        return load_and_watch(*args, **kwargs)


class _Package(types.ModuleType):
    """Keeps the function ``kubereload.watch`` when the detectors' subpackage of the same name
    is imported: the import system would bind the name here to the subpackage. The subpackage
    stays reachable as ``sys.modules["kubereload.watch"]`` (``from kubereload.watch import``),
    and is imported only by what uses it (the controller and ``sync`` never do)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "watch" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__version__ = "0.1.0"

_HOME = {
    "Config": "kubereload.config",
    "ConfigError": "kubereload.config",
    "Limits": "kubereload.config",
    "changed_keys": "kubereload.config",
    "Snapshot": "kubereload.volume",
    "watch_configmap": "kubereload.library",
    "watch_secret": "kubereload.library",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'kubereload' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "Config",
    "ConfigError",
    "Limits",
    "Snapshot",
    "changed_keys",
    "watch",
    "watch_configmap",
    "watch_secret",
]

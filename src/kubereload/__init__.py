"""kubereload: hot-reload configuration from Kubernetes ConfigMaps and Secrets.

config = kubereload.watch("/etc/config/app.yaml")
config.get()   # the current, validated value; never blocks, never half-updated

config = kubereload.watch_configmap("app-config", key="app.yaml")  # straight from the API

The names below are loaded on first use (PEP 562): importing any ``kubereload.*`` module, as the
``watch`` and ``run`` sidecars do, must not load the formats, PyYAML and the config store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubereload.config import Config, ConfigError, Limits, changed_keys
    from kubereload.library import watch, watch_configmap, watch_secret
    from kubereload.volume import Snapshot
else:
    # The detectors' subpackage ``kubereload.watch`` is imported first: imported later, it would
    # rebind the name ``watch`` here to itself, hiding the function.
    import kubereload.watch  # noqa: F401

    def watch(*args: Any, **kwargs: Any) -> Any:
        """Load ``path`` now and keep it current: ``kubereload.library.watch``."""
        from kubereload.library import watch as load_and_watch  # noqa: PLC0415 - on first use

        return load_and_watch(*args, **kwargs)


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

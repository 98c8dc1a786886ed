"""What a workload's annotations ask for, read the same way as stakater/Reloader reads them.

Reloader's annotations work unchanged, so a cluster can switch controllers without editing
manifests; kubereload's own ``kubereload.io/`` names say the same things, plus ``keys``
(only changes to these keys count) and ``pause-period`` for every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubereload.durations import parse_duration

RELOADER = "reloader.stakater.com"
OWN = "kubereload.io"

AUTO = (f"{RELOADER}/auto", f"{OWN}/auto")
AUTO_CONFIGMAPS = (f"configmap.{RELOADER}/auto", f"{OWN}/auto-configmaps")
AUTO_SECRETS = (f"secret.{RELOADER}/auto", f"{OWN}/auto-secrets")
RELOAD_CONFIGMAPS = (f"configmap.{RELOADER}/reload", f"{OWN}/configmaps")
RELOAD_SECRETS = (f"secret.{RELOADER}/reload", f"{OWN}/secrets")
SEARCH = (f"{RELOADER}/search", f"{OWN}/search")
MATCH = (f"{RELOADER}/match", f"{OWN}/match")
IGNORE = (f"{RELOADER}/ignore", f"{OWN}/ignore")
KEYS = f"{OWN}/keys"
PAUSE_PERIOD = f"{OWN}/pause-period"
RELOADER_DEPLOYMENT_PAUSE = f"deployment.{RELOADER}/pause-period"

CONFIG_HASH = f"{OWN}/config-hash"
"""Annotation holding the hash of every object a workload depends on (template or metadata)."""
LAST_RELOADED_FROM = f"{RELOADER}/last-reloaded-from"


def _true(annotations: Mapping[str, str], names: tuple[str, ...]) -> bool:
    return any(annotations.get(name, "").strip().lower() == "true" for name in names)


def _names(annotations: Mapping[str, str], names: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        found.update(part.strip() for part in annotations.get(name, "").split(","))
    found.discard("")
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Policy:
    """Which ConfigMaps/Secrets should roll a workload, from its annotations.

    ``auto_*``: every referenced object of that kind; ``configmaps``/``secrets``: these names,
    referenced or not; ``search``: referenced objects that carry the match annotation;
    ``keys``: only these keys count (None: all); ``pause_period``: seconds between two rollouts.
    ``problems`` lists annotations that could not be read (they are then ignored).
    """

    auto_configmaps: bool = False
    auto_secrets: bool = False
    configmaps: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    search: bool = False
    keys: frozenset[str] | None = None
    pause_period: float | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def active(self) -> bool:
        """Whether anything can roll this workload at all."""
        return bool(
            self.auto_configmaps
            or self.auto_secrets
            or self.configmaps
            or self.secrets
            or self.search
        )


def parse_policy(
    annotations: Mapping[str, str], pause_names: tuple[str, ...] = (), *, auto_all: bool = False
) -> Policy:
    """Read a workload's policy; ``pause_names``: its kind's own pause-period annotations
    (Reloader's are per kind), after kubereload's; ``auto_all`` (``--auto-reload-all``)
    treats every workload as auto."""
    auto = auto_all or _true(annotations, AUTO)
    problems: list[str] = []
    keys: frozenset[str] | None = None
    if KEYS in annotations:
        keys = _names(annotations, (KEYS,))
        if not keys:
            problems.append(f"{KEYS} is empty; all keys count")
            keys = None
    pause: float | None = None
    for name in (PAUSE_PERIOD, *pause_names):
        if name in annotations:
            try:
                pause = parse_duration(annotations[name])
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
            break
    return Policy(
        auto_configmaps=auto or _true(annotations, AUTO_CONFIGMAPS),
        auto_secrets=auto or _true(annotations, AUTO_SECRETS),
        configmaps=_names(annotations, RELOAD_CONFIGMAPS),
        secrets=_names(annotations, RELOAD_SECRETS),
        search=_true(annotations, SEARCH),
        keys=keys,
        pause_period=pause,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class SourceFlags:
    """The annotations a ConfigMap/Secret itself carries: ``ignore`` it, or ``match`` a search."""

    ignore: bool = False
    match: bool = False


NO_FLAGS = SourceFlags()


def parse_source_flags(annotations: Mapping[str, str]) -> SourceFlags:
    ignore, match = _true(annotations, IGNORE), _true(annotations, MATCH)
    return NO_FLAGS if not (ignore or match) else SourceFlags(ignore=ignore, match=match)

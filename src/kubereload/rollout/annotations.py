"""What a workload's annotations ask for, read the same way as stakater/Reloader reads them.

Reloader's annotations work unchanged, so a cluster can switch controllers without editing
manifests; kubereload's own ``kubereload.io/`` names say the same things, plus ``keys``
(only changes to these keys count) and ``pause-period`` for every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

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


def _false(annotations: Mapping[str, str], names: tuple[str, ...]) -> bool:
    return any(annotations.get(name, "").strip().lower() == "false" for name in names)


@dataclass(frozen=True, slots=True)
class Reading:
    """How the controller reads annotations: the names it looks for (Reloader's names can be
    changed by its flags, ``--auto-annotation`` and the like; kubereload's own always count),
    ``--auto-reload-all``, and the kinds whose references never count
    (``--resources-to-ignore``)."""

    auto_all: bool = False
    auto: tuple[str, ...] = AUTO
    auto_configmaps: tuple[str, ...] = AUTO_CONFIGMAPS
    auto_secrets: tuple[str, ...] = AUTO_SECRETS
    reload_configmaps: tuple[str, ...] = RELOAD_CONFIGMAPS
    reload_secrets: tuple[str, ...] = RELOAD_SECRETS
    search: tuple[str, ...] = SEARCH
    match: tuple[str, ...] = MATCH
    ignore: tuple[str, ...] = IGNORE
    ignored_kinds: frozenset[str] = frozenset()  # "ConfigMap", "Secret"


DEFAULT_READING = Reading()

RENAMEABLE = (
    "auto",
    "auto_configmaps",
    "auto_secrets",
    "reload_configmaps",
    "reload_secrets",
    "search",
    "match",
)
"""Fields of :class:`Reading` whose Reloader name a flag may replace."""


def renamed(reading: Reading, **reloader_names: str | None) -> Reading:
    """``reading`` with Reloader's name for some annotations replaced (kubereload's kept)."""
    changes: dict[str, Any] = {}
    for field_name, name in reloader_names.items():
        if field_name not in RENAMEABLE:
            raise TypeError(f"no annotation {field_name}")
        if name:
            own = getattr(DEFAULT_READING, field_name)[1:]
            changes[field_name] = (name, *own)
    return replace(reading, **changes)


_NO_NAMES: frozenset[str] = frozenset()
"""Shared by every workload that names none (each empty frozenset would cost 216 bytes)."""


def _names(annotations: Mapping[str, str], names: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        found.update(part.strip() for part in annotations.get(name, "").split(","))
    found.discard("")
    return frozenset(found) if found else _NO_NAMES


@dataclass(frozen=True, slots=True)
class Policy:
    """Which ConfigMaps/Secrets should roll a workload, from its annotations.

    ``auto_*``: every referenced object of that kind; ``configmaps``/``secrets``: these names,
    referenced or not; ``search``: referenced objects that carry the match annotation;
    ``keys``: only these keys count (None: all); ``pause_period``: seconds between two rollouts.
    ``declined_auto``: the workload says ``auto: "false"``, which wins over
    ``--auto-reload-all``. ``problems`` lists annotations that could not be read (they are
    then ignored).
    """

    auto_configmaps: bool = False
    auto_secrets: bool = False
    configmaps: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    search: bool = False
    keys: frozenset[str] | None = None
    pause_period: float | None = None
    declined_auto: bool = False
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
    annotations: Mapping[str, str],
    pause_names: tuple[str, ...] = (),
    reading: Reading = DEFAULT_READING,
) -> Policy:
    """Read a workload's policy; ``pause_names``: its kind's own pause-period annotations
    (Reloader's are per kind), after kubereload's. With ``--auto-reload-all`` every workload
    is auto, unless it declines with ``auto: "false"`` (for one kind: the typed auto
    annotation ``"false"``)."""
    declined = _false(annotations, reading.auto)
    auto_all = reading.auto_all and not declined
    auto = _true(annotations, reading.auto)
    auto_configmaps = (
        auto
        or _true(annotations, reading.auto_configmaps)
        or (auto_all and not _false(annotations, reading.auto_configmaps))
    )
    auto_secrets = (
        auto
        or _true(annotations, reading.auto_secrets)
        or (auto_all and not _false(annotations, reading.auto_secrets))
    )
    configmaps = _names(annotations, reading.reload_configmaps)
    secrets = _names(annotations, reading.reload_secrets)
    if "ConfigMap" in reading.ignored_kinds:
        auto_configmaps, configmaps = False, _NO_NAMES
    if "Secret" in reading.ignored_kinds:
        auto_secrets, secrets = False, _NO_NAMES
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
        auto_configmaps=auto_configmaps,
        auto_secrets=auto_secrets,
        configmaps=configmaps,
        secrets=secrets,
        search=_true(annotations, reading.search),
        keys=keys,
        pause_period=pause,
        declined_auto=declined,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class SourceFlags:
    """The annotations a ConfigMap/Secret itself carries: ``ignore`` it, or ``match`` a search."""

    ignore: bool = False
    match: bool = False


NO_FLAGS = SourceFlags()


def parse_source_flags(
    annotations: Mapping[str, str], reading: Reading = DEFAULT_READING
) -> SourceFlags:
    ignore, match = _true(annotations, reading.ignore), _true(annotations, reading.match)
    return NO_FLAGS if not (ignore or match) else SourceFlags(ignore=ignore, match=match)

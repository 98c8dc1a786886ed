"""What a sidecar is asked to do, as typed options (the CLI's flags end up here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubereload.actions import ActionOptions


@dataclass(frozen=True)
class ReloadOptions:
    """On a change: wait ``coalesce`` and ``jitter``, run ``validate``, then ``actions`` in order.

    ``validate_shell`` runs the validate command with ``/bin/sh -c``; ``initial_reload`` also
    reloads once at start.
    """

    actions: Sequence[ActionOptions] = ()
    validate: str | None = None
    validate_timeout: float = 60.0
    validate_shell: bool = False
    initial_reload: bool = False
    jitter: float = 0.0
    coalesce: float = 0.1


@dataclass(frozen=True)
class SidecarOptions:
    """What ``kubereload watch`` runs: ``paths`` (directories or single files) watched, reloads
    as ``reload`` says, and ``/healthz``, ``/readyz`` and metrics (at ``metrics_path``) on
    ``listen`` if given."""

    paths: Sequence[Path] = ()
    reload: ReloadOptions = field(default_factory=ReloadOptions)
    listen: str | None = None
    metrics_path: str = "/metrics"
    unready_on_failure: bool = False

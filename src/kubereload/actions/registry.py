"""Every reload action a sidecar can run, by the options that describe it.

Adding an action: write its class and its options dataclass (fields described with
:func:`~kubereload.actions.spec.flag`, a ``build`` method), then list the options here. The
flags and ``KUBERELOAD_*`` variables of ``watch``, ``run`` and ``sync`` come from this list.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubereload.actions.base import Action, Observer
from kubereload.actions.command import ExecOptions
from kubereload.actions.signals import SignalOptions
from kubereload.actions.spec import ActionOptions
from kubereload.actions.webhook import WebhookOptions

ACTIONS: tuple[type[ActionOptions], ...] = (WebhookOptions, SignalOptions, ExecOptions)
"""In the order their flags are listed in ``--help``."""


def build_actions(options: Iterable[ActionOptions], observer: Observer) -> list[Action]:
    """The actions, in the order given; ValueError when one of them cannot work."""
    return [option.build(observer) for option in options]

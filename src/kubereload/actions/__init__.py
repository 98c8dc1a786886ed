"""Reload actions (validate, webhook, signal, exec) and the pipeline that runs them on a change.

Shared by ``kubereload watch``, ``run`` and ``sync``.
"""

from kubereload.actions.base import (
    Action,
    ActionError,
    NullObserver,
    Observer,
    ReloadContext,
    ReloadResult,
)
from kubereload.actions.command import Command, CommandResult, Exec, ExecOptions, Validate
from kubereload.actions.pipeline import ReloadPipeline
from kubereload.actions.redact import redact_url
from kubereload.actions.registry import ACTIONS, build_actions
from kubereload.actions.signals import Signal, SignalOptions, find_processes, parse_signal
from kubereload.actions.spec import ActionOptions, Flag
from kubereload.actions.webhook import Webhook, WebhookOptions, parse_expect, parse_header

__all__ = [
    "ACTIONS",
    "Action",
    "ActionError",
    "ActionOptions",
    "Command",
    "CommandResult",
    "Exec",
    "ExecOptions",
    "Flag",
    "NullObserver",
    "Observer",
    "ReloadContext",
    "ReloadPipeline",
    "ReloadResult",
    "Signal",
    "SignalOptions",
    "Validate",
    "Webhook",
    "WebhookOptions",
    "build_actions",
    "find_processes",
    "parse_expect",
    "parse_header",
    "parse_signal",
    "redact_url",
]

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
from kubereload.actions.command import Command, CommandResult, Exec, Validate
from kubereload.actions.pipeline import ReloadPipeline
from kubereload.actions.redact import redact_url
from kubereload.actions.signals import Signal, find_processes, parse_signal
from kubereload.actions.webhook import Webhook, WebhookConfig, parse_expect, parse_header

__all__ = [
    "Action",
    "ActionError",
    "Command",
    "CommandResult",
    "Exec",
    "NullObserver",
    "Observer",
    "ReloadContext",
    "ReloadPipeline",
    "ReloadResult",
    "Signal",
    "Validate",
    "Webhook",
    "WebhookConfig",
    "find_processes",
    "parse_expect",
    "parse_header",
    "parse_signal",
    "redact_url",
]

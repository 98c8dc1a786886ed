"""What every reload action is: a named step that either completes or raises ``ActionError``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Failure = tuple[str, str]  # why an attempt failed: (metric reason, message safe to log)


class ActionError(Exception):
    """A reload step failed; the message is safe to log (no credentials)."""

    def __init__(self, message: str, *, reason: str = "failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ReloadContext:
    """What a reload is about. ``superseded`` is set when a newer change is already waiting:
    long steps (retry back-off) stop early, since the next reload will run anyway."""

    sources: tuple[str, ...]
    superseded: threading.Event = field(default_factory=threading.Event)


class Action(Protocol):
    """One reload step: a webhook call, a signal, a command, a child restart."""

    kind: str  # for metric labels: "webhook", "signal", "exec", ...

    def describe(self) -> str:
        """A short, credential-free description for logs and metric labels."""
        ...

    def run(self, context: ReloadContext) -> None:
        """Do the step; raise ActionError when it did not work."""
        ...


@runtime_checkable
class Retrying(Protocol):
    """An action made of attempts with waits between them (a webhook): its first attempt is
    bounded by its own timeout, so a detector's thread may make it; the waits are not."""

    def first_attempt(self) -> Failure | None:
        """None if it worked, else why; ActionError when no retry would help."""
        ...

    def retry(self, context: ReloadContext, failure: Failure) -> None:
        """The rest of :meth:`Action.run` after a first attempt that failed."""
        ...


class Observer(Protocol):
    """Receives what the pipeline and its actions did (metrics and health hang off this)."""

    def reload_started(self, sources: tuple[str, ...]) -> None: ...

    def reload_finished(self, result: ReloadResult) -> None: ...

    def webhook_attempt(
        self, target: str, seconds: float, error: str | None, status: int | None = None
    ) -> None: ...


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of one reload: ``stage`` is where it stopped ("validate", "action", "done")."""

    sources: tuple[str, ...]
    ok: bool
    stage: str
    error: str | None
    finished_at: float
    seconds: float


class NullObserver:
    """Records nothing (library use, tests)."""

    def reload_started(self, sources: tuple[str, ...]) -> None:
        return None

    def reload_finished(self, result: ReloadResult) -> None:
        return None

    def webhook_attempt(
        self, target: str, seconds: float, error: str | None, status: int | None = None
    ) -> None:
        return None

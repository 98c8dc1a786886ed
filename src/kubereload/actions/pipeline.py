"""From "these sources changed" to a reload: wait (coalesce, jitter), validate, run the actions.

One pipeline serves ``watch``, ``run`` and ``sync``: detectors (or a writer) call ``submit``;
one worker thread does the reloads, one at a time (a detector makes a lone webhook's first
attempt itself when nothing else is going on, and hands a failure to the worker for the
retries). Changes that arrive while a reload is waiting or running are merged into the next
one, so a burst of changes costs at most one extra reload.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Sequence

from kubereload.actions.base import (
    Action,
    ActionError,
    Failure,
    NullObserver,
    Observer,
    ReloadContext,
    ReloadResult,
    Retrying,
)
from kubereload.actions.command import Validate
from kubereload.durations import check_seconds

log = logging.getLogger(__name__)

# The ``result`` of a reload in structured logs: the values of kubereload_reloads_total's label.
SUCCESS, INVALID, FAILURE = ({"result": r} for r in ("success", "invalid", "failure"))

STEP_LIMIT = 60.0  # seconds allowed to a step that does not say how long it may take
STUCK_MARGIN = 30.0  # seconds beyond the sum of the steps' limits before a reload is stuck


class ReloadPipeline:
    """Runs ``validate`` then each action in order, for every batch of changed sources.

    ``coalesce``: after a change, wait this long for changes on the other ``sources`` (ended early
    once every one of them changed), so a pod update that touches several volumes reloads once.
    ``jitter``: then wait a random time up to this, so replicas do not reload in the same instant.
    All actions run even if one fails (they usually target different things); the reload counts
    as failed if any did. A reload running ``stuck_margin`` longer than all its steps' time limits
    together is reported as stuck by ``problem()`` (behind ``/healthz``).
    """

    def __init__(
        self,
        actions: Sequence[Action],
        *,
        validate: Validate | None = None,
        observer: Observer | None = None,
        sources: Iterable[str] = (),
        coalesce: float = 0.0,
        jitter: float = 0.0,
        stuck_margin: float = STUCK_MARGIN,
    ) -> None:
        self.actions = list(actions)
        self.validate = validate
        self.observer: Observer = observer or NullObserver()
        self.sources = frozenset(sources)
        self.coalesce = check_seconds("coalesce", coalesce)
        self.jitter = check_seconds("jitter", jitter)
        self.last_result: ReloadResult | None = None
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._superseded = threading.Event()
        self._stop = False
        self._run_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._busy_since: float | None = None
        self._worker_waiting = False  # the worker sleeps with nothing to do
        self._here = False  # a first attempt is being made in a submitter's thread
        self._handed_over: tuple[tuple[str, ...], float, ReloadContext, Failure] | None = None
        # One webhook, nothing to validate or wait for: a detector can make the first attempt
        # itself, saving the thread hand-off; the worker retries if it fails.
        only = self.actions[0] if len(self.actions) == 1 else None
        self._first_here = only if isinstance(only, Retrying) and validate is None else None
        steps: list[object] = [*self.actions, *([validate] if validate else [])]
        self.stuck_after = (
            sum(float(getattr(step, "time_limit", STEP_LIMIT)) for step in steps)
            + coalesce
            + jitter
            + stuck_margin
        )

    # -- feeding ------------------------------------------------------------------------------

    def submit(self, *sources: str, here: bool = False) -> None:
        """Ask for a reload because ``sources`` changed; returns at once, unless ``here``: then,
        if nothing else is pending, running or waiting, the first attempt is made in the
        caller's thread (a detector, whose events queue meanwhile); any retry is the worker's."""
        if here and self._first_here is not None:
            with self._cond:
                here = self._may_go_here(sources)
                if here:
                    self._here = True
                    self._idle.clear()
                    self._superseded.clear()
            if here:
                self._reload_here(tuple(sorted(set(sources))), self._first_here)
                return
        with self._cond:
            self._pending.update(sources)
            self._idle.clear()
            self._superseded.set()  # a reload in progress is now out of date
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="kubereload-reload", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stop = True
            self._superseded.set()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def problem(self) -> str | None:
        """Why the worker cannot reload (for ``/healthz``), or None: stopped, or stuck in one
        reload for longer than all its steps' time limits together."""
        if not self.is_alive():
            return "the reload worker stopped"
        since = self._busy_since
        if since is not None and (busy := time.monotonic() - since) > self.stuck_after:
            return f"a reload has been running for {busy:.0f}s (limit {self.stuck_after:.0f}s)"
        return None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no reload is pending or running (for callers that need the outcome)."""
        return self._idle.wait(timeout)

    # -- a first attempt in the submitter's thread --------------------------------------------

    def _may_go_here(self, sources: tuple[str, ...]) -> bool:
        """Hold ``_cond``: no reload pending, running, retrying or about to wait (coalesce or
        jitter), so going first cannot overtake an older change nor skip a wait."""
        waits = self.jitter > 0 or (self.coalesce > 0 and len(self.sources) > 1)
        return (
            not waits
            and not self._stop
            and self._worker_waiting
            and not self._pending
            and not self._here
            and self._handed_over is None
            and bool(sources)
        )

    def _reload_here(self, batch: tuple[str, ...], action: Retrying) -> None:
        """The first attempt, as the worker's reload would make it; hands a failure over."""
        try:
            with self._run_lock:
                started = self._busy_since = time.monotonic()
                self.observer.reload_started(batch)
                context = ReloadContext(batch, self._superseded)
                errors: list[str] = []
                try:
                    failure = action.first_attempt()
                except ActionError as exc:
                    failure = None
                    errors.append(str(exc))
                if failure is not None:
                    with self._cond:
                        self._handed_over = (batch, started, context, failure)
                        self._here = False
                        self._cond.notify()
                    return
                result = self._result(batch, errors, started)
                self._finish(result)
            self._report(result)
        except Exception:  # a detector must survive anything an action does
            log.exception("reload of %s crashed", ", ".join(batch))
            self._busy_since = None
        finally:
            with self._cond:
                if self._here:
                    self._here = False
                    self._cond.notify()  # the worker takes what came meanwhile, or goes idle

    def _retry_handed_over(
        self, batch: tuple[str, ...], started: float, context: ReloadContext, failure: Failure
    ) -> None:
        assert self._first_here is not None
        with self._run_lock:
            errors: list[str] = []
            try:
                self._first_here.retry(context, failure)
            except ActionError as exc:
                errors.append(str(exc))
            result = self._result(batch, errors, started)
            self._finish(result)
        self._report(result)

    # -- the worker ---------------------------------------------------------------------------

    def _wait_until(self, deadline: float, enough: bool) -> None:
        """Hold ``_cond``: wait until ``deadline``, or until every source changed if ``enough``."""
        while not self._stop:
            left = deadline - time.monotonic()
            if left <= 0 or (enough and self.sources <= self._pending):
                return
            self._cond.wait(left)

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._here or (
                    not self._pending and self._handed_over is None and not self._stop
                ):
                    if not self._here:
                        self._idle.set()
                    self._worker_waiting = True
                    self._cond.wait()
                    self._worker_waiting = False
                handed_over, self._handed_over = self._handed_over, None
            if handed_over is not None:
                try:
                    self._retry_handed_over(*handed_over)
                except Exception:
                    log.exception("reload of %s crashed", ", ".join(handed_over[0]))
                    self._busy_since = None
                continue
            with self._cond:
                if self._stop:
                    self._idle.set()
                    return
                if self.coalesce > 0 and len(self.sources) > 1:
                    self._wait_until(time.monotonic() + self.coalesce, enough=True)
                if self.jitter > 0:
                    self._wait_until(time.monotonic() + random.uniform(0, self.jitter), False)
                if self._stop:
                    return
                batch = tuple(sorted(self._pending))
                self._pending.clear()
                self._superseded.clear()
            try:
                self.reload_now(batch)
            except Exception:  # the worker must survive anything an action does
                log.exception("reload of %s crashed", ", ".join(batch))

    def reload_now(self, sources: Sequence[str]) -> ReloadResult:
        """Validate and run the actions now, in the caller's thread; one reload at a time."""
        batch = tuple(sources)
        with self._run_lock:
            started = self._busy_since = time.monotonic()
            try:
                result = self._reload(batch, started)
            finally:
                self._busy_since = None
            self.last_result = result
        self._report(result)
        return result

    def _finish(self, result: ReloadResult) -> None:
        """Hold ``_run_lock``: the reload is over."""
        self._busy_since = None
        self.last_result = result

    def _report(self, result: ReloadResult) -> None:
        batch = result.sources
        self.observer.reload_finished(result)  # first: whoever reads the log sees metrics
        what = ", ".join(batch) or "start-up"
        ms = result.seconds * 1000
        fields = {"event": "reload", "source": what, "duration_ms": round(ms, 1)}
        if result.ok and not self.actions and self.validate is None:
            log.debug("change in %s: no reload action to run", what, extra=fields)
        elif result.ok:
            log.info("reloaded after change in %s (%.1f ms)", what, ms, extra=fields | SUCCESS)
        elif result.stage == "validate":
            log.error(
                "not reloading after change in %s: %s", what, result.error, extra=fields | INVALID
            )
        else:
            log.error(
                "reload after change in %s failed: %s", what, result.error, extra=fields | FAILURE
            )

    def _reload(self, batch: tuple[str, ...], started: float) -> ReloadResult:
        self.observer.reload_started(batch)
        context = ReloadContext(batch, self._superseded)
        stage, errors = "done", []
        if self.validate is not None:
            try:
                self.validate.run(context)
            except ActionError as exc:
                stage, errors = "validate", [str(exc)]
        if stage == "done":
            for action in self.actions:
                try:
                    action.run(context)
                except ActionError as exc:
                    stage = "action"
                    errors.append(str(exc))
        return self._result(batch, errors, started, stage)

    @staticmethod
    def _result(
        batch: tuple[str, ...], errors: list[str], started: float, stage: str = ""
    ) -> ReloadResult:
        stage = stage or ("action" if errors else "done")
        seconds = time.monotonic() - started
        return ReloadResult(
            batch, not errors, stage, "\n".join(errors) or None, time.time(), seconds
        )

"""The rollout controller: informers feed the index and the digests; a worker rolls workloads.

Every ConfigMap/Secret event marks the workloads that use it; a workload is rolled when its
desired config hash differs from the one it carries (``decide``), released through storm control
(``RolloutQueue``), and only while this replica leads. A workload seen for the first time
without a hash is adopted: the hash it runs with is kept in memory (as Reloader does, nothing is
written at start), or with ``record_first_seen_hash`` written to its metadata, which restarts
nothing but lets a later start find a change made while no controller ran. After the first full
sync, and whenever this replica becomes the leader, every workload is compared once: that rolls
what changed while no controller ran, for the workloads that carry a hash, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kubereload.kube.client import KubeClient
from kubereload.kube.data import DataKind, decode_data
from kubereload.kube.errors import ApiError, KubeError
from kubereload.kube.informer import Informer, Key
from kubereload.kube.resources import EVENTS, JOBS, NAMESPACES, ObjectRef
from kubereload.kube.status import InformerStatus, release_memory, run_informers
from kubereload.rollout.annotations import DEFAULT_READING, Reading
from kubereload.rollout.decide import Dependency, Outcome, decide
from kubereload.rollout.digests import DigestStore, ObjectDigest, data_ref, summarize
from kubereload.rollout.events import event_body
from kubereload.rollout.explain import sub_path_warnings
from kubereload.rollout.jobs import job_body
from kubereload.rollout.kinds import KINDS, WorkloadKind
from kubereload.rollout.patches import Patch, Strategy, Trigger, adopt_patch, rollout_patch
from kubereload.rollout.storm import RolloutQueue
from kubereload.rollout.workloads import Workload, WorkloadIndex, from_object, keyed_refs
from kubereload.server import HealthRegistry, Registry

log = logging.getLogger(__name__)

ADOPT_CONCURRENCY = 8
ECHO_WAIT = 60.0  # seconds a written hash may take to come back through the watch


@dataclass(frozen=True)
class Settings:
    """What ``kubereload controller``'s flags set."""

    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    ignore_namespaces: frozenset[str] = frozenset()
    namespace_selector: str | None = None
    resource_selector: str | None = None
    reading: Reading = DEFAULT_READING  # annotation names, --auto-reload-all, ignored kinds
    reload_on_create: bool = False  # a ConfigMap/Secret created after start rolls its users
    reload_on_delete: bool = False  # a deleted one rolls its users (Reloader: off by default)
    ignored_workload_kinds: frozenset[str] = frozenset()  # WorkloadKind names never watched
    run_jobs_now: bool = False  # a rolled CronJob also starts a Job at once (as Reloader)
    # write the first-seen hash to each new workload (one PATCH each), not only keep it in memory
    record_first_seen_hash: bool = False
    strategy: Strategy = "annotations"
    debounce: float = 1.0
    max_concurrent: int | None = None
    rate: float | None = 5.0
    burst: int = 10
    dry_run: bool = False
    stall_timeout: float = 60.0
    retry_delay: float = 10.0
    rollout_timeout: float = 300.0  # with max_concurrent: longest a rollout holds its slot
    argo_rollouts: bool | None = None  # None: if the API server serves them
    identity: str = "kubereload"


@dataclass
class Metrics:
    registry: Registry
    rollouts: Any = field(init=False)
    skipped: Any = field(init=False)
    adoptions: Any = field(init=False)
    latency: Any = field(init=False)
    depth: Any = field(init=False)
    in_flight: Any = field(init=False)
    leader: Any = field(init=False)
    reloader_executed: Any = field(init=False)
    reloader_actions: Any = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        # Reloader's names, so its dashboards and alerts keep working after a migration
        self.reloader_executed = r.counter(
            "reload_executed_total",
            "Rollouts attempted (Reloader's metric), by success.",
            ["success"],
            prefix="reloader_",
        )
        self.reloader_actions = r.counter(
            "action_total",
            "Rollouts attempted (Reloader's metric), by workload kind and result.",
            ["workload_kind", "result"],
            prefix="reloader_",
        )
        self.rollouts = r.counter(
            "rollouts_total", "Rollouts by workload kind and result.", ["kind", "result"]
        )
        self.skipped = r.counter(
            "rollouts_skipped_total", "Workloads looked at and not rolled, by reason.", ["reason"]
        )
        self.adoptions = r.counter(
            "adoptions_total",
            "Workloads first seen without a config hash: the hash they run with recorded"
            " (in memory, or on the workload with --record-first-seen-hash), nothing rolled.",
        )
        self.latency = r.histogram(
            "change_to_patch_seconds",
            "From a ConfigMap/Secret event to the workload's patch answered.",
        )
        self.depth = r.gauge("rollout_queue_depth", "Workloads waiting to roll.")
        self.in_flight = r.gauge(
            "rollouts_in_flight", "Rollouts in progress (patch sent, not yet done)."
        )
        self.leader = r.gauge("leader", "1 while this replica is the one that acts.")


@dataclass
class Holding:
    """A rollout holding a ``--max-concurrent`` slot until the workload's status says done."""

    desired: str
    pause: float | None
    timeout: asyncio.TimerHandle


@dataclass
class WorkloadState:
    """What the controller remembers about one workload between events (see ``forget``)."""

    triggers: set[tuple[DataKind, str]] = field(default_factory=set)  # changed since last roll
    changed_at: float | None = None  # first change not rolled yet (for the latency metric)
    warned: bool = False  # subPath warnings given
    # hash last written, until the watch shows it: a late echo of an older write must not look
    # like a workload that still needs rolling
    written: tuple[str, float] | None = None
    holding: Holding | None = None
    adopting: bool | None = None  # None: not adopting; True: a change came meanwhile


class _DataHandler:
    def __init__(self, controller: Controller, kind: DataKind) -> None:
        self.c, self.kind = controller, kind

    def on_add(self, key: Key, digest: ObjectDigest) -> None:
        self.c.data_created(ObjectRef(self.kind, *key), digest)

    def on_update(self, key: Key, old: ObjectDigest, new: ObjectDigest) -> None:
        self.c.data_changed(ObjectRef(self.kind, *key), new)

    def on_delete(self, key: Key, old: ObjectDigest) -> None:
        self.c.data_deleted(ObjectRef(self.kind, *key))


class _WorkloadHandler:
    def __init__(self, controller: Controller) -> None:
        self.c = controller

    def on_add(self, key: Key, workload: Workload) -> None:
        self.c.workload_changed(workload.key, workload)

    def on_update(self, key: Key, old: Workload, new: Workload) -> None:
        self.c.workload_changed(new.key, new)

    def on_delete(self, key: Key, old: Workload) -> None:
        self.c.workload_changed(old.key, None)


class _NamespaceHandler:
    def __init__(self, controller: Controller) -> None:
        self.c = controller

    def on_add(self, key: Key, obj: str) -> None:
        self.c.namespace_changed()

    def on_update(self, key: Key, old: str, new: str) -> None:
        return None

    def on_delete(self, key: Key, old: str) -> None:
        self.c.namespace_changed()


def _namespace_name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


class Controller:
    """One replica of the controller. ``run`` until cancelled or leadership is lost."""

    def __init__(
        self,
        client: KubeClient,
        settings: Settings,
        registry: Registry,
        health: HealthRegistry,
        *,
        leading: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.registry = registry
        self.health = health
        self.leading = leading
        self.clock = clock
        self.metrics = Metrics(registry)
        self.store = DigestStore()
        self.index = WorkloadIndex()
        self.queue: RolloutQueue[ObjectRef] = RolloutQueue(
            debounce=settings.debounce,
            max_concurrent=settings.max_concurrent,
            rate=settings.rate,
            burst=settings.burst,
        )
        self.active = asyncio.Event()  # set while this replica leads
        self.synced = False
        self._wake = asyncio.Event()
        self.states: dict[ObjectRef, WorkloadState] = {}
        # the hash a workload carrying none was first seen with (what its pods run): kept apart
        # from the index, whose Workload each status update rebuilds from the object
        self.first_seen: dict[ObjectRef, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._adopt_slots = asyncio.Semaphore(ADOPT_CONCURRENCY)
        self.namespace_informer: Informer[str] | None = None
        self.informers: list[Informer[Any]] = []

    # -- informers -----------------------------------------------------------------------------
    def _scopes(self) -> list[str | None]:
        return list(self.settings.namespaces) or [None]

    def _data_transform(self, kind: DataKind) -> Callable[[dict[str, Any]], ObjectDigest]:
        store, reading = self.store, self.settings.reading

        def transform(obj: dict[str, Any]) -> ObjectDigest:
            ref = data_ref(kind, obj)
            decoded = decode_data(kind, obj)
            for problem in decoded.problems():
                log.warning("%s: %s; it counts as one invalid value", ref, problem)
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            keyed = store.wants_keys(ref)
            return summarize(decoded, annotations, with_keys=keyed, reading=reading)

        return transform

    def _workload_transform(self, kind: WorkloadKind) -> Callable[[dict[str, Any]], Workload]:
        reading = self.settings.reading
        return lambda obj: from_object(kind, obj, reading=reading)

    async def build_informers(self) -> list[Informer[Any]]:
        s = self.settings
        informers: list[Informer[Any]] = []
        # pages of 100: a page is decoded whole, and what is kept is allocated among its
        # remains; smaller pages leave fewer of Python's arenas pinned after the first list
        # (2 000 + 2 000 + 1 000 objects: 2.2 MB less RSS than pages of 250, same CPU)
        common: dict[str, Any] = {"stall_timeout": s.stall_timeout, "page_size": 100}
        if s.namespace_selector:
            self.namespace_informer = Informer(
                self.client,
                NAMESPACES,
                _NamespaceHandler(self),
                transform=_namespace_name,
                label_selector=s.namespace_selector,
                **common,
            )
            informers.append(self.namespace_informer)
        wanted = [k for k in KINDS.values() if k.name not in s.ignored_workload_kinds]
        kinds = [kind for kind in wanted if not kind.optional]
        for kind in wanted:
            if kind.optional and await self._watch_optional(kind):
                kinds.append(kind)
        data_kinds = [k for k in DataKind if k.value not in s.reading.ignored_kinds]
        for scope in self._scopes():
            for data_kind in data_kinds:
                informers.append(
                    Informer(
                        self.client,
                        data_kind.resource,
                        _DataHandler(self, data_kind),
                        transform=self._data_transform(data_kind),
                        namespace=scope,
                        label_selector=s.resource_selector,
                        **common,
                    )
                )
            for kind in kinds:
                informers.append(
                    Informer(
                        self.client,
                        kind.resource,
                        _WorkloadHandler(self),
                        transform=self._workload_transform(kind),
                        namespace=scope,
                        **common,
                    )
                )
        self.informers = informers
        return informers

    async def _watch_optional(self, kind: WorkloadKind) -> bool:
        """Whether to watch a CRD kind: ``--argo-rollouts`` says, or else whether it is served."""
        wanted = self.settings.argo_rollouts
        if wanted is None:
            wanted = await self.client.served(kind.resource)
            if wanted:
                log.info(
                    "%s found: watching %s too", kind.resource.api_version, kind.resource.plural
                )
        return wanted

    # -- events --------------------------------------------------------------------------------
    def allowed(self, namespace: str) -> bool:
        if namespace in self.settings.ignore_namespaces:
            return False
        if self.namespace_informer is not None:
            return self.namespace_informer.get(("", namespace)) is not None
        return True

    def state(self, key: ObjectRef) -> WorkloadState:
        found = self.states.get(key)
        if found is None:
            found = self.states[key] = WorkloadState()
        return found

    def forget(self, key: ObjectRef) -> None:
        """A workload is gone: release its slot and drop everything remembered about it."""
        self._finish(key)
        self.queue.forget(key)
        self.states.pop(key, None)
        self.first_seen.pop(key, None)

    def data_created(self, ref: ObjectRef, digest: ObjectDigest) -> None:
        """An object appeared (or was listed at start). After the first sync a creation rolls
        its users only with ``reload_on_create``, as Reloader's ``--reload-on-create``;
        otherwise its digest is recorded and the next change to it rolls them."""
        if self.synced and not self.settings.reload_on_create:
            self.store.set(ref, digest)
            return
        self.data_changed(ref, digest)

    def data_deleted(self, ref: ObjectRef) -> None:
        """An object was deleted. Only with ``reload_on_delete`` does that roll its users;
        otherwise its last digest is kept while a workload uses it, so re-creating it with the
        same content changes nothing."""
        if not self.settings.reload_on_delete and self.index.users(ref):
            return
        self.data_changed(ref, None)

    def data_changed(self, ref: ObjectRef, digest: ObjectDigest | None) -> None:
        changed = self.store.delete(ref) if digest is None else self.store.set(ref, digest)
        if not (changed and self.synced):
            return
        now = self.clock()
        for key in self.index.users(ref):
            state = self.state(key)
            state.triggers.add((DataKind(ref.kind), ref.name))
            if state.changed_at is None:
                state.changed_at = now
            self._consider(key)

    def workload_changed(self, key: ObjectRef, workload: Workload | None) -> None:
        old = self.index.upsert(workload) if workload else self.index.remove(key)
        before, after = keyed_refs(old), keyed_refs(workload)
        for ref in after - before:
            if self.store.keep_keys(ref):
                self._spawn(self._refetch(ref))
        for ref in before - after:
            self.store.drop_keys(ref)
        if workload is None:
            self.forget(key)
            return
        if workload.current_hash is not None:
            self.first_seen.pop(key, None)  # the object carries its own hash now
        state = self.states.get(key)
        holding = state.holding if state else None
        if holding and workload.current_hash == holding.desired and not workload.rolling:
            self._finish(key)
        if self.synced:
            self._consider(key)

    def namespace_changed(self) -> None:
        if self.synced:
            self.full_pass()

    def _view(self, workload: Workload) -> Workload:
        """The workload with the hash it was first seen with, if it carries none; and with the
        hash this replica last wrote to it, until the watch shows that write: a late echo of an
        older write, or a change racing a write, is then judged against what the workload
        carries now, never against an older view."""
        key = workload.key
        if workload.current_hash is None and (first := self.first_seen.get(key)) is not None:
            workload = replace(workload, baseline_hash=first)
        state = self.states.get(key)
        written = state.written if state else None
        if state is None or written is None:
            return workload
        if workload.current_hash == written[0] or self.clock() - written[1] > ECHO_WAIT:
            state.written = None
            return workload
        return replace(workload, template_hash=written[0])

    def _consider(self, key: ObjectRef) -> Outcome | None:
        """Queue a workload if it needs a rollout; adopt it at once if it is new."""
        workload = self.index.get(key)
        if workload is None or not self.allowed(workload.namespace):
            return None
        if self._keys_pending(workload):
            return None  # judged when _refetch brings the per-key digests
        decision = decide(self._view(workload), self.store)
        if decision.outcome is Outcome.ROLL:
            self.queue.mark(key, self.clock())
            self._wake.set()
        elif decision.outcome is Outcome.ADOPT and decision.desired:
            self._first_sight(workload, decision.desired)
        elif (state := self.states.get(key)) is not None:
            state.triggers.clear()
            state.changed_at = None
        return decision.outcome

    def _keys_pending(self, workload: Workload) -> bool:
        """An object it filters by key is known by its whole digest only, so far: a hash
        recorded or compared now would differ from the keyed one and roll it for nothing."""
        return any(
            (state := self.store.get(ref)) is not None and state.keys is None
            for ref in keyed_refs(workload)
        )

    def full_pass(self) -> None:
        """Compare every workload once (after the first sync, and on becoming the leader)."""
        counts = dict.fromkeys(Outcome, 0)
        for workload in list(self.index.all()):
            if workload.policy.active:
                outcome = self._consider(workload.key)
                if outcome is not None:
                    counts[outcome] += 1
        log.info(
            "compared %d workloads: %d to roll, %d new (hash recorded), %d unchanged",
            sum(counts.values()),
            counts[Outcome.ROLL],
            counts[Outcome.ADOPT],
            counts[Outcome.NONE],
        )

    async def _refetch(self, ref: ObjectRef) -> None:
        """Read an object again to get its per-key digests (a workload filters it by key)."""
        kind = DataKind(ref.kind)
        try:
            obj = await self.client.get(kind.resource, ref.namespace, ref.name)
        except KubeError as err:
            log.warning("reading %s for its keys failed: %s", ref, err)
            return
        if obj is not None and self.store.wants_keys(ref):
            self.store.set(ref, self._data_transform(kind)(obj))
            if self.synced:
                for key in self.index.users(ref):
                    self._consider(key)

    # -- acting --------------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def became_leader(self) -> None:
        log.info("leading: comparing every workload")
        self.metrics.leader.set(1)
        self.active.set()
        if self.synced:
            self.full_pass()

    def mark_synced(self) -> None:
        self.synced = True
        release_memory()  # the decoded list pages: freed, but held by the C heap until trimmed
        log.info(
            "first sync done: %d ConfigMaps/Secrets, %d workloads", len(self.store), len(self.index)
        )
        self.full_pass()

    async def _write(self, workload: Workload, body: Patch) -> None:
        await self.client.patch(
            workload.kind.resource,
            workload.namespace,
            workload.name,
            body.encode(),
            body.content_type,
        )

    async def _event(
        self, workload: Workload, reason: str, message: str, warning: bool = False
    ) -> None:
        if self.settings.dry_run:
            return
        body = event_body(
            workload,
            reason=reason,
            message=message,
            warning=warning,
            instance=self.settings.identity,
        )
        try:
            await self.client.create(EVENTS, workload.namespace, body)
        except KubeError as err:
            log.warning("event on %s failed: %s", workload.key, err)

    def _first_sight(self, workload: Workload, first: str) -> None:
        """Adopt a workload seen without a hash: ``first`` is what its pods run. Kept in memory
        (any replica: a new leader then still rolls a change its predecessor had not), or, with
        ``record_first_seen_hash``, written to the workload by the leader."""
        if self.settings.record_first_seen_hash:
            if self.active.is_set():
                self._start_adopt(workload.key, first)
            return
        self.first_seen[workload.key] = first
        self.metrics.adoptions.inc()
        if self.active.is_set() and sub_path_warnings(workload):
            self._spawn(self._warn_sub_path(workload))

    def _start_adopt(self, key: ObjectRef, first: str) -> None:
        """Adopt a workload with the hash of its first sight (what its pods run), one write at
        a time per workload; a change that comes meanwhile is judged after the write."""
        state = self.state(key)
        if state.adopting is not None:
            state.adopting = True
            return
        state.adopting = False
        self._spawn(self._adopt(key, first))

    async def _adopt(self, key: ObjectRef, first: str) -> None:
        try:
            await self._adopt_once(key, first)
        finally:
            state = self.states.get(key)
            again = state is not None and state.adopting
            if state is not None:
                state.adopting = None
            if again:
                self._consider(key)

    async def _adopt_once(self, key: ObjectRef, first: str) -> None:
        async with self._adopt_slots:
            workload = self.index.get(key)
            if workload is None or not self.leading():
                return
            decision = decide(self._view(workload), self.store)
            if decision.outcome is Outcome.ROLL:  # a change came while it waited: roll it
                self.queue.mark(key, self.clock())
                self._wake.set()
                return
            if decision.outcome is not Outcome.ADOPT:
                return
            what = str(key)
            if self.settings.dry_run:
                log.info("dry-run: would record config hash %s on %s", first, what)
            else:
                try:
                    await self._write(workload, adopt_patch(first))
                except KubeError as err:
                    delay = self.settings.retry_delay
                    log.warning(
                        "recording the hash on %s failed: %s; retry in %gs", what, err, delay
                    )
                    asyncio.get_running_loop().call_later(delay, self._retry, key)
                    return
                self.state(key).written = (first, self.clock())
                log.info("adopted %s: config hash %s recorded, nothing rolled", what, first)
            self.metrics.adoptions.inc()
            current = self.index.get(key)
            if current is workload:
                self.index.upsert(replace(workload, baseline_hash=first))
            await self._warn_sub_path(workload)

    async def _warn_sub_path(self, workload: Workload) -> None:
        state = self.state(workload.key)
        if state.warned:
            return
        state.warned = True
        for message in sub_path_warnings(workload):
            log.warning("%s: %s", workload.key, message)
            await self._event(workload, "SubPathMount", message, warning=True)

    def _trigger_list(
        self, workload: Workload, deps: list[Dependency], changed: set[tuple[DataKind, str]]
    ) -> list[Trigger]:
        chosen = [d for d in deps if (d.kind, d.name) in changed] or deps
        out = []
        for dep in chosen:
            known = self.store.get(ObjectRef(dep.kind, workload.namespace, dep.name))
            digest = known.digest.hex() if known is not None else "absent"
            out.append(Trigger(dep.kind, workload.namespace, dep.name, digest))
        return out

    def _finish(self, key: ObjectRef) -> None:
        """A rollout that held a slot is done (its status says so, or it timed out)."""
        state = self.states.get(key)
        holding = state.holding if state else None
        if state is not None and holding is not None:
            state.holding = None
            holding.timeout.cancel()
            self.queue.done(key, self.clock(), holding.pause)
            self._wake.set()

    def _hold(self, key: ObjectRef, desired: str, pause: float | None) -> None:
        handle = asyncio.get_running_loop().call_later(
            self.settings.rollout_timeout, self._finish, key
        )
        self.state(key).holding = Holding(desired, pause, handle)

    async def _roll(self, key: ObjectRef) -> None:
        pause: float | None = None
        held = False
        result = "skipped"
        workload = self.index.get(key)
        try:
            if workload is None:
                self.metrics.skipped.inc(reason="gone")
                return
            decision = decide(self._view(workload), self.store)
            if decision.outcome is not Outcome.ROLL or decision.desired is None:
                self.metrics.skipped.inc(reason="unchanged")
                if decision.outcome is Outcome.ADOPT and decision.desired:
                    self._first_sight(workload, decision.desired)
                return
            if not self.leading():
                # not leading (renewal late): check again in a second; a new leader compares all
                self.queue.mark(key, self.clock() + 1.0)
                return
            state = self.state(key)
            changed, state.triggers = state.triggers, set()
            started, state.changed_at = state.changed_at, None  # before the write: its echo
            # clears it
            triggers = self._trigger_list(workload, decision.deps, changed)
            names = ", ".join(f"{t.kind} {t.name}" for t in triggers[:5])
            because = f"{names} changed" if changed else f"{names} changed while no controller ran"
            what = str(key)
            body = rollout_patch(
                workload.kind,
                decision.desired,
                strategy=self.settings.strategy,
                triggers=triggers,
                containers=list(workload.containers),
            )
            if self.settings.dry_run:
                log.info(
                    "dry-run: would roll %s because %s",
                    what,
                    because,
                    extra={"event": "rollout", "object": what, "result": "dry_run"},
                )
                result = "dry_run"
                if key in self.first_seen:  # nothing echoes a dry run: remember it here
                    self.first_seen[key] = decision.desired
            else:
                await self._write(workload, body)
                state.written = (decision.desired, self.clock())
                log.info(
                    "rolled %s because %s (config hash %s)",
                    what,
                    because,
                    decision.desired,
                    extra={
                        "event": "rollout",
                        "object": what,
                        "version": decision.desired,
                        "result": "success",
                    },
                )
                result = "success"
            if self.index.get(key) is workload:
                self.index.upsert(workload.rolled_to(decision.desired))
            if started is not None and result == "success":
                self.metrics.latency.observe(self.clock() - started)
            pause = workload.policy.pause_period
            holds = workload.kind.holds_slot and self.settings.max_concurrent
            if result == "success" and holds:
                self._hold(key, decision.desired, pause)
                held = True
            if result == "success" and self.settings.run_jobs_now:
                await self._run_job_now(workload)
            await self._event(workload, "Reloaded", f"rolled because {because}")
            await self._warn_sub_path(workload)
        except ApiError as err:
            if err.code == 404:
                self.metrics.skipped.inc(reason="gone")
                return
            result = "failure"
            await self._failed(key, workload, str(err))
        except KubeError as err:
            result = "failure"
            await self._failed(key, workload, str(err))
        finally:
            if workload is not None and result != "skipped":
                self.metrics.rollouts.inc(kind=workload.kind.name, result=result)
            if workload is not None and result in ("success", "failure"):
                ok = result == "success"
                self.metrics.reloader_executed.inc(success="true" if ok else "false")
                self.metrics.reloader_actions.inc(workload_kind=workload.kind.name, result=result)
            if not held:
                self.queue.done(key, self.clock(), pause)
            self._wake.set()

    async def _run_job_now(self, workload: Workload) -> None:
        """For kinds that make Jobs (CronJobs): start one now from the patched template."""
        path = workload.kind.job_template_path
        if path is None:
            return
        try:
            obj = await self.client.get(workload.kind.resource, workload.namespace, workload.name)
            if obj is None:
                return
            job = await self.client.create(JOBS, workload.namespace, job_body(obj, path))
        except KubeError as err:
            log.warning("starting a Job from %s failed: %s", workload.key, err)
            return
        log.info(
            "started Job %s/%s from %s", workload.namespace, job["metadata"]["name"], workload.key
        )

    async def _failed(self, key: ObjectRef, workload: Workload | None, reason: str) -> None:
        delay = self.settings.retry_delay
        log.error(
            "rolling %s failed: %s; retrying in %gs",
            key,
            reason,
            delay,
            extra={"event": "rollout", "object": str(key), "result": "failure"},
        )
        if workload is not None:
            await self._event(workload, "ReloadFailed", f"rollout failed: {reason}", warning=True)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._retry, key)

    def _retry(self, key: ObjectRef) -> None:
        self._consider(key)

    async def worker(self) -> None:
        """Release queued workloads under the storm limits, while leading."""
        while True:
            await self.active.wait()
            now = self.clock()
            key = self.queue.pop_ready(now)
            self.metrics.depth.set(self.queue.depth)
            self.metrics.in_flight.set(self.queue.in_flight)
            if key is not None:
                self._spawn(self._roll(key))
                continue
            wake_at = self.queue.next_wakeup(now)
            self._wake.clear()
            timeout = None if wake_at is None else max(0.0, wake_at - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def run(self, stop: asyncio.Event) -> int:
        """Watch and roll until ``stop`` is set (0) or an informer dies of a bug (1)."""
        informers = await self.build_informers()
        status = InformerStatus(informers, self.registry, self.health)
        try:
            return await run_informers(
                informers, status, [("worker", self.worker())], stop, self.mark_synced
            )
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

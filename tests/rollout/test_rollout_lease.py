"""Leader election semantics on a Lease, as client-go's: one leader, takeover only on expiry."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kubereload.kube.lease import (
    Conflict,
    LeaderElector,
    LeaseRecord,
    lease_body,
    record_from_lease,
)


class MemoryLease:
    """One Lease with resourceVersions, as the API server keeps it (409 on a stale version)."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.rv = 0
        self.lock = threading.Lock()

    def get(self) -> tuple[LeaseRecord, str] | None:
        with self.lock:
            return None if self.record is None else (self.record, str(self.rv))

    def create(self, record: LeaseRecord) -> str:
        with self.lock:
            if self.record is not None:
                raise Conflict("exists")
            self.record, self.rv = record, self.rv + 1
            return str(self.rv)

    def update(self, record: LeaseRecord, resource_version: str) -> str:
        with self.lock:
            if resource_version != str(self.rv):
                raise Conflict("stale")
            self.record, self.rv = record, self.rv + 1
            return str(self.rv)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)


def elector(store: MemoryLease, name: str, clock: Clock) -> LeaderElector:
    return LeaderElector(
        store,
        name,
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        clock=clock,
        wall=clock.wall,
    )


def test_first_candidate_creates_and_holds() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    assert a.try_acquire_or_renew() and a.leading()
    assert store.record is not None
    assert store.record.holder == "a" and store.record.transitions == 0
    assert store.record.duration_seconds == 15
    assert not b.try_acquire_or_renew() and not b.leading()
    assert b.observed_holder == "a"


def test_renewal_keeps_acquire_time_and_blocks_others() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    a.try_acquire_or_renew()
    assert store.record is not None
    acquired = store.record.acquire_time
    for _ in range(10):
        clock.t += 2
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert store.record.acquire_time == acquired
    assert store.record.renew_time == clock.wall()


def test_takeover_only_after_the_lease_expires() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b saw the record at t=1000
    clock.t += 14.9
    assert not b.try_acquire_or_renew()
    assert not a.leading()  # a stopped acting: it has not renewed for > renew deadline
    clock.t += 0.2
    assert b.try_acquire_or_renew() and b.leading()
    assert store.record is not None
    assert store.record.holder == "b" and store.record.transitions == 1
    # a comes back: it sees b's fresh record and does not take it
    assert not a.try_acquire_or_renew() and not a.is_leader()


def test_lost_race_is_a_conflict_not_two_leaders() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.t += 16
    # a renews between b's read and b's write: b's write carries a stale version
    real_get = store.get

    def get_then_a_renews() -> tuple[LeaseRecord, str] | None:
        seen = real_get()
        store.get = real_get  # type: ignore[method-assign]
        assert a.try_acquire_or_renew()
        return seen

    store.get = get_then_a_renews  # type: ignore[method-assign]
    assert not b.try_acquire_or_renew()
    assert store.record is not None and store.record.holder == "a"


def test_release_lets_a_successor_in_at_once() -> None:
    store, clock = MemoryLease(), Clock()
    a, b = elector(store, "a", clock), elector(store, "b", clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.release() and not a.leading()
    assert store.record is not None and store.record.holder == ""
    clock.t += 0.5
    assert b.try_acquire_or_renew()
    assert store.record.holder == "b" and store.record.transitions == 1
    assert not a.release()  # not the holder any more


def test_lease_object_round_trip() -> None:
    when = datetime(2026, 11, 22, 4, 30, 1, 123456, tzinfo=UTC)
    record = LeaseRecord("pod-1", 15, when, when, 3)
    body = lease_body("kubereload", "ops", record, "42")
    assert body["apiVersion"] == "coordination.k8s.io/v1" and body["kind"] == "Lease"
    assert body["metadata"] == {"name": "kubereload", "namespace": "ops", "resourceVersion": "42"}
    assert body["spec"]["renewTime"] == "2026-11-22T04:30:01.123456Z"
    assert record_from_lease(body) == record
    assert record_from_lease({"spec": {}}) == LeaseRecord("", 0, None, None, 0)


def test_bad_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="lease_duration"):
        LeaderElector(MemoryLease(), "a", lease_duration=5, renew_deadline=10)
    with pytest.raises(ValueError, match="identity"):
        LeaderElector(MemoryLease(), "")


def test_run_leads_until_stopped_and_releases() -> None:
    store = MemoryLease()
    le = LeaderElector(store, "a", lease_duration=3, renew_deadline=2, retry_period=0.05)
    stop, started, stopped = threading.Event(), threading.Event(), threading.Event()
    thread = threading.Thread(target=le.run, args=(stop, started.set, stopped.set))
    thread.start()
    assert started.wait(5)
    rv_at_start = store.rv
    # renewals keep happening while it leads
    deadline = threading.Event()
    while store.rv < rv_at_start + 3 and not deadline.wait(0.01):
        pass
    stop.set()
    thread.join(5)
    assert stopped.is_set() and not thread.is_alive()
    assert store.record is not None and store.record.holder == ""


def test_run_gives_up_leadership_when_renewal_fails() -> None:
    store = MemoryLease()
    le = LeaderElector(store, "a", lease_duration=3, renew_deadline=0.3, retry_period=0.05)
    stop, started, stopped = threading.Event(), threading.Event(), threading.Event()
    thread = threading.Thread(target=le.run, args=(stop, started.set, stopped.set))
    thread.start()
    assert started.wait(5)

    def broken(record: LeaseRecord, resource_version: str) -> str:
        raise OSError("connection refused")

    store.update = broken  # type: ignore[method-assign]
    assert stopped.wait(5)
    thread.join(5)
    assert not thread.is_alive() and not le.leading()
    stop.set()

"""Storm control: debounce, concurrency, rate limit and pause period, on a simulated clock."""

import pytest

from kubereload.rollout.storm import MAX_HOLD, RolloutQueue, TokenBucket


def drain(q: RolloutQueue[str], now: float) -> list[str]:
    out = []
    while (key := q.pop_ready(now)) is not None:
        out.append(key)
    return out


def test_a_lone_change_rolls_at_once() -> None:
    q: RolloutQueue[str] = RolloutQueue(debounce=5.0)
    q.mark("web", 0.0)
    q.mark("web", 0.0)  # seen in the same turn of the event loop: the same rollout
    assert q.next_wakeup(0.0) == 0.0
    assert drain(q, 0.0) == ["web"]
    q.done("web", 0.0)
    assert q.pop_ready(100.0) is None and q.next_wakeup(100.0) is None
    q.mark("web", 100.0)  # long after: at once again
    assert drain(q, 100.0) == ["web"]


def test_twenty_quick_changes_make_two_rollouts() -> None:
    q: RolloutQueue[str] = RolloutQueue(debounce=1.0)
    released: list[float] = []
    t = 0.0
    for _ in range(20):  # one change every 100 ms: 2 s in all, longer than the debounce
        q.mark("web", t)
        for key in drain(q, t):
            released.append(t)
            q.done(key, t)
        t = round(t + 0.1, 3)
    while t < 20.0:
        for key in drain(q, t):
            released.append(t)
            q.done(key, t)
        t = round(t + 0.05, 3)
    assert len(released) == 2
    assert released[0] <= 0.1  # the first at once
    assert released[1] == pytest.approx(1.9 + 1.0, abs=0.06)  # the rest once quiet for 1 s


def test_a_constant_trickle_cannot_hold_a_rollout_for_ever() -> None:
    q: RolloutQueue[str] = RolloutQueue(debounce=1.0)
    q.mark("web", 0.0)
    assert drain(q, 0.0) == ["web"]
    q.done("web", 0.0)
    t, second = 0.5, None
    while t < 30.0 and second is None:
        q.mark("web", t)  # a change every half second, for ever
        if drain(q, t):
            second = t
        t += 0.5
    assert second is not None and second <= 0.5 + MAX_HOLD * 1.0


def test_a_change_during_a_rollout_rolls_again_after_it() -> None:
    q: RolloutQueue[str] = RolloutQueue()
    q.mark("web", 0.0)
    assert q.pop_ready(0.0) == "web"
    q.mark("web", 0.5)  # arrives while rolling
    assert q.pop_ready(1.0) is None
    q.done("web", 2.0)
    assert q.pop_ready(2.0) == "web"


def test_max_concurrent() -> None:
    q: RolloutQueue[str] = RolloutQueue(max_concurrent=2)
    for name in "abcd":
        q.mark(name, 0.0)
    assert drain(q, 0.0) == ["a", "b"]
    assert q.in_flight == 2 and q.depth == 2
    assert q.next_wakeup(0.0) is None  # only done() can free a slot
    q.done("a", 1.0)
    assert drain(q, 1.0) == ["c"]


def test_rate_limit_is_cluster_wide() -> None:
    q: RolloutQueue[str] = RolloutQueue(rate=2.0, burst=2)
    for i in range(10):
        q.mark(f"w{i}", 0.0)
    released = drain(q, 0.0)
    assert len(released) == 2  # the burst
    for key in released:
        q.done(key, 0.0)
    assert q.next_wakeup(0.0) == pytest.approx(0.5)
    assert drain(q, 0.5) == ["w2"]
    # over 4 more seconds: 2 per second
    got = []
    t = 0.5
    while t < 4.5:
        t += 0.25
        got += drain(q, t)
    assert len(got) == 7


def test_pause_period_holds_the_next_rollout() -> None:
    q: RolloutQueue[str] = RolloutQueue()
    q.mark("web", 0.0)
    assert q.pop_ready(0.0) == "web"
    q.done("web", 1.0, pause_period=60.0)
    q.mark("web", 2.0)
    q.mark("web", 30.0)
    assert q.pop_ready(60.9) is None
    assert q.next_wakeup(2.0) == 61.0
    assert drain(q, 61.0) == ["web"]


def test_change_waiting_when_pause_starts_is_pushed_back() -> None:
    q: RolloutQueue[str] = RolloutQueue()
    q.mark("web", 0.0)
    assert q.pop_ready(0.0) == "web"
    q.mark("web", 0.1)
    q.done("web", 1.0, pause_period=10.0)
    assert q.pop_ready(5.0) is None
    assert q.pop_ready(11.0) == "web"


def test_forget_drops_a_deleted_workload() -> None:
    q: RolloutQueue[str] = RolloutQueue(debounce=1.0)
    q.mark("gone", 0.0)
    q.forget("gone")
    assert q.depth == 0 and q.pop_ready(5.0) is None and q.next_wakeup(5.0) is None


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=1.0, burst=3.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.next_token(0.0) == pytest.approx(1.0)
    assert bucket.take(1.0) and not bucket.take(1.0)
    assert TokenBucket(rate=None).take(0.0)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        RolloutQueue(max_concurrent=0)
    with pytest.raises(ValueError, match="rate"):
        RolloutQueue(rate=0)

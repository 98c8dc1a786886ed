"""Storm control: when a workload may roll, so one change never means a restart storm.

- A lone change rolls at once (changes the controller sees in the same turn of its event loop
  make one rollout). Changes that follow a rollout within
  ``debounce`` seconds make one more rollout once they stop for ``debounce`` seconds (at the
  latest ``MAX_HOLD`` debounces after the first of them, so a constant trickle cannot postpone
  it forever): 20 quick changes make 2 rollouts, not 20.
- ``max_concurrent``: at most this many rollouts in progress at once.
- A cluster-wide token bucket: ``rate`` rollouts per second, bursts up to ``burst``.
- Pause period: no second rollout of a workload within its pause period after the last one;
  changes meanwhile wait and make one rollout at its end.

Pure and clock-driven (every method takes ``now``), so it is tested without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

MAX_HOLD = 5.0  # a burst after a rollout is held at most this many debounces


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``rate`` None means no limit."""

    rate: float | None
    burst: float = 1.0
    tokens: float = field(init=False)
    stamp: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.rate is not None and self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        if self.rate is None:
            return True
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def next_token(self, now: float) -> float:
        """When a token will be there (``now`` if one is)."""
        if self.rate is None:
            return now
        self._refill(now)
        if self.tokens >= 1.0:
            return now
        return now + (1.0 - self.tokens) / self.rate


class RolloutQueue(Generic[K]):
    """Workloads waiting to roll, released one at a time by ``pop_ready`` under every limit."""

    def __init__(
        self,
        *,
        debounce: float = 0.0,
        max_concurrent: int | None = None,
        rate: float | None = None,
        burst: float = 1.0,
    ) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.debounce = debounce
        self.max_concurrent = max_concurrent
        self.bucket = TokenBucket(rate, max(1.0, burst))
        self._due: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._in_flight: set[K] = set()
        self._not_before: dict[K, float] = {}
        self._released: dict[K, float] = {}  # when each key last rolled (pruned after debounce)
        self._burst: dict[K, float] = {}  # first change of a burst held after a rollout

    @property
    def depth(self) -> int:
        """Workloads waiting (not counting those rolling)."""
        return len(self._due)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def mark(self, key: K, now: float) -> None:
        """A change affects ``key``; coalesces with a mark still waiting."""
        not_before = self._not_before.get(key, now)
        waiting = self._due.get(key)
        if waiting is not None:
            start = self._burst.get(key)
            if start is not None:  # a held burst: wait until it has been quiet for debounce
                due = max(min(now + self.debounce, start + MAX_HOLD * self.debounce), not_before)
                if due > waiting:
                    self._push(key, due)
            return
        last = self._released.get(key)
        if key in self._in_flight or (last is not None and now - last < self.debounce):
            self._burst[key] = now
            due = now + self.debounce
        else:
            due = now  # a lone change: at once
        self._push(key, max(due, not_before))

    def _push(self, key: K, due: float) -> None:
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))

    def pop_ready(self, now: float) -> K | None:
        """The next workload allowed to roll now, counted as in flight until ``done``."""
        if self.max_concurrent is not None and len(self._in_flight) >= self.max_concurrent:
            return None
        skipped: list[tuple[float, int, K]] = []
        found: K | None = None
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            key = entry[2]
            if self._due.get(key) != entry[0]:
                continue  # stale entry
            if key in self._in_flight:
                skipped.append(entry)  # rolls again once the current rollout is done
                continue
            if not self.bucket.take(now):
                skipped.append(entry)
                break
            del self._due[key]
            self._burst.pop(key, None)
            self._in_flight.add(key)
            self._released[key] = now
            found = key
            break
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return found

    def done(self, key: K, now: float, pause_period: float | None = None) -> None:
        """A rollout of ``key`` has finished (or failed); it may not roll again until
        ``now + pause_period``."""
        self._in_flight.discard(key)
        if pause_period:
            self._not_before[key] = now + pause_period
            due = self._due.get(key)
            if due is not None and due < now + pause_period:
                self._due[key] = now + pause_period
                heapq.heappush(self._heap, (now + pause_period, next(self._seq), key))
        else:
            self._not_before.pop(key, None)
        for k in [k for k, t in self._not_before.items() if t <= now]:
            del self._not_before[k]
        for k in [k for k, t in self._released.items() if now - t >= self.debounce]:
            if k not in self._in_flight:
                del self._released[k]

    def forget(self, key: K) -> None:
        """The workload is gone: drop whatever waits for it."""
        self._due.pop(key, None)
        self._not_before.pop(key, None)
        self._released.pop(key, None)
        self._burst.pop(key, None)

    def next_wakeup(self, now: float) -> float | None:
        """When ``pop_ready`` may next return something; None when nothing can be released
        before a ``mark`` or a ``done`` (nothing waits, or every slot is taken)."""
        if self.max_concurrent is not None and len(self._in_flight) >= self.max_concurrent:
            return None
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        if self._heap[0][2] not in self._in_flight:
            earliest = self._heap[0][0]
        else:  # rare: the head is rolling right now, look past it
            waiting = [
                due
                for due, _, key in self._heap
                if key not in self._in_flight and self._due.get(key) == due
            ]
            if not waiting:
                return None
            earliest = min(waiting)
        return max(earliest, self.bucket.next_token(now))

"""Exponential back-off with jitter, for everything that retries (webhook calls, API watches).

Each delay is uniform in [d/2, d], d doubling from ``initial`` up to ``maximum``: waits keep
growing while replicas that failed together spread out. ``reset()`` starts over, after a call
that worked.
"""

from __future__ import annotations

import random

CONNECT_RETRY_CAP = 1.0
"""Seconds: the longest wait between attempts while the server refuses connections.

A refused connection costs the server nothing, and an API server restart refuses them for
5-10 s: with the general back-off grown during that outage, the first watch after it came
seconds late (a change took 4.4 s instead of 5 ms to arrive). Errors the server answers
(429, 5xx) keep the general back-off and ``Retry-After``."""


class Backoff:
    def __init__(self, initial: float = 0.2, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0

    def next(self) -> float:
        """The next delay, in seconds."""
        ceiling = min(self.maximum, self.initial * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0

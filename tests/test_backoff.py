"""One back-off for webhook retries and API watches: growing, jittered, capped, restartable."""

from kubereload.backoff import Backoff


def test_delays_double_with_jitter_up_to_the_cap_and_start_over_on_reset() -> None:
    backoff = Backoff(0.1, 1.0)
    for ceiling in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0):
        assert ceiling / 2 <= backoff.next() <= ceiling
    backoff.reset()
    assert 0.05 <= backoff.next() <= 0.1


def test_replicas_failing_together_spread_out() -> None:
    delays = {Backoff(1.0, 1.0).next() for _ in range(50)}
    assert len(delays) > 40

"""Read path: nanoseconds per ``config.get()``, from 1 thread and from 8 threads at once.

    python bench/bench_read.py [--quick]

Beside it, in the same run and the same loops: a plain method returning an attribute (the
floor any getter can reach) and a ``threading.Lock``-guarded getter (what a locked store costs),
plus the empty loop, so its share of every figure is visible. Each batch is a timeit loop of
10,000 calls; the getters take turns batch by batch so drift hits them alike. From 8 threads,
"aggregate" is wall time over all calls made (throughput), "per call" is what each thread
measured over its own batches, which includes the time it waited for the GIL.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _table import fmt_ns, machine_note, percentile, table

BATCH = 10_000
THREADS = 8


class Plain:
    """A plain method call: the floor."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value


class Locked:
    """The obvious thread-safe store: every read takes a lock."""

    def __init__(self, value: Any) -> None:
        self._lock = threading.Lock()
        self._value = value

    def get(self) -> Any:
        with self._lock:
            return self._value


def batch_timer(obj: object, stmt: str) -> Callable[[], float]:
    """ns per call over one batch; ``c`` is a local of timeit's loop, as in real code."""
    timer = timeit.Timer(stmt, setup="c = obj", globals={"obj": obj})
    return lambda: timer.timeit(BATCH) * 1e9 / BATCH


def single(getters: dict[str, tuple[object, str]], repeats: int) -> dict[str, list[float]]:
    timers = {name: batch_timer(obj, stmt) for name, (obj, stmt) in getters.items()}
    results: dict[str, list[float]] = {name: [] for name in getters}
    for timer in timers.values():  # warm up
        timer()
    for _ in range(repeats):
        for name, timer in timers.items():
            results[name].append(timer())
    return results


def threaded(obj: object, stmt: str, repeats: int) -> tuple[float, list[float]]:
    """(aggregate ns per call, every thread's per-batch ns per call) for THREADS readers."""
    per_batch: list[float] = []
    start = threading.Barrier(THREADS + 1)

    def reader() -> None:
        timer = batch_timer(obj, stmt)
        timer()
        start.wait()
        mine = [timer() for _ in range(repeats)]
        per_batch.extend(mine)

    threads = [threading.Thread(target=reader) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter_ns()
    for thread in threads:
        thread.join()
    wall = time.perf_counter_ns() - began
    return wall / (THREADS * repeats * BATCH), per_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches")
    args = parser.parse_args()
    repeats = 50 if args.quick else 500
    repeats_threaded = 10 if args.quick else 100

    import kubereload
    from kubereload.volume import AtomicWriter

    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        volume = Path(tmp) / "config"
        AtomicWriter(volume).write({"app.yaml": "message: hello\nport: 8080\n"})
        with kubereload.watch(volume / "app.yaml") as config:
            value = config.get()
            getters: dict[str, tuple[object, str]] = {
                "config.get() (kubereload)": (config, "c.get()"),
                "plain method call": (Plain(value), "c.get()"),
                "threading.Lock getter": (Locked(value), "c.get()"),
                "empty loop (overhead)": (None, "pass"),
            }
            print("## Read path: ns per get()\n")
            print(
                f"{machine_note()}; batches of {BATCH:,} calls; 1 thread: {repeats} batches "
                f"per getter, interleaved; {THREADS} threads: {repeats_threaded} batches each, "
                "all at once.\n",
                flush=True,
            )
            one = single(getters, repeats)
            rows = []
            for name, (obj, stmt) in getters.items():
                aggregate, per_batch = threaded(obj, stmt, repeats_threaded)
                rows.append(
                    [
                        name,
                        fmt_ns(percentile(one[name], 50)),
                        fmt_ns(percentile(one[name], 99)),
                        fmt_ns(aggregate),
                        fmt_ns(percentile(per_batch, 50)),
                        fmt_ns(percentile(per_batch, 99)),
                    ]
                )
    print(
        table(
            [
                "getter",
                "1 thread median",
                "1 thread p99",
                f"{THREADS} threads aggregate",
                f"{THREADS} threads per call median",
                "per call p99",
            ],
            rows,
        )
    )
    print(
        f"\nTarget for config.get(): <= 60 ns from 1 thread. With the GIL, {THREADS} threads "
        "share one core's worth of Python: aggregate ns/call is the figure to compare.\n"
    )


if __name__ == "__main__":
    main()

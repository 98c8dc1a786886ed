"""Detection latency: from the kubelet-style ``..data`` rename to the callback holding the value.

    python bench/bench_detect.py [--quick] [--rounds R] [--updates N] [KIND ...]

A writer process drives :class:`kubereload.volume.AtomicWriter` through updates of a
ConfigMap-style volume (``app.yaml`` with ``seq: N``), pausing a random 2-10 ms after each one
(seeded, so every watcher gets the same schedule), and records ``time.monotonic_ns()`` right
after the ``os.rename`` of ``..data_tmp`` onto ``..data`` (its ``os.rename`` is wrapped; the
library is unchanged). Each watcher (see ``_watchers.py``) runs in a process of its own, one
after the other against a fresh volume, so none shares a GIL or a core's time with another
watcher; CLOCK_MONOTONIC is the same clock in every process on Linux. The 1000 updates come in
4 rounds of 250, the watchers taking turns round by round, so that on a shared, noisy machine
each of them samples the same stretches of background load.

Latency of version k: the first moment the watcher's callback holds version k or a newer one,
minus k's rename. For a version delivered in order that is its own delivery; a version that
was skipped counts until the watcher caught up past it, which is what an application serving
stale config experiences.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _table import fmt_ns, machine_note, percentile, table
from _watchers import KINDS

HERE = Path(__file__).resolve().parent
GAP_MS = (2.0, 10.0)
SETTLE_S = 10.0  # after the last update, how long a watcher may take to deliver it

EXTRA = "".join(f"  key{i}: value-{i}\n" for i in range(20))


def app_yaml(seq: int) -> str:
    """A small realistic config: the sequence number twice (a torn read would disagree)."""
    return f"seq: {seq}\ncheck: {seq}\nmessage: hello number {seq}\nsettings:\n{EXTRA}"


# -- the writer process -----------------------------------------------------------------------


def run_writer(volume: Path, updates: int, seed: int) -> None:
    """Write versions 1..updates; print the monotonic time each was published, as JSON."""
    from kubereload.volume import AtomicWriter

    published: list[int] = []
    real_rename = os.rename

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        real_rename(src, dst, *args, **kwargs)
        if os.path.basename(os.fspath(dst)) == "..data":
            published.append(time.monotonic_ns())

    os.rename = rename  # this process only: the AtomicWriter calls os.rename at run time
    writer = AtomicWriter(volume)
    gaps = random.Random(seed)
    for seq in range(1, updates + 1):
        if writer.write({"app.yaml": app_yaml(seq)}) is None or len(published) != seq:
            raise SystemExit(f"update {seq} was not published")
        time.sleep(gaps.uniform(*GAP_MS) / 1000)
    print(json.dumps(published), flush=True)


# -- the bench --------------------------------------------------------------------------------


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines, read on a thread so waits can time out."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _expect(lines: queue.Queue[str], word: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return False
        if line == word:
            return True
        if line == "":
            raise RuntimeError(f"watcher exited while waiting for {word!r}")
    return False


def measure(kind: str, updates: int, seed: int) -> dict[str, Any]:
    """One watcher against one writer run; returns the raw figures."""
    from kubereload.volume import AtomicWriter

    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        volume = Path(tmp) / "config"
        AtomicWriter(volume).write({"app.yaml": app_yaml(0)})
        watcher = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_watchers.py"),
                kind,
                str(volume),
                "--expect",
                str(updates),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        lines = _lines(watcher)
        try:
            if not _expect(lines, "ready", 60):
                raise RuntimeError(f"{kind} did not get ready")
            writer = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--writer",
                    str(volume),
                    "--updates",
                    str(updates),
                    "--seed",
                    str(seed),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            published: list[int] = json.loads(writer.stdout)
            _expect(lines, "done", SETTLE_S)  # a watcher that never gets there shows as such
        finally:
            assert watcher.stdin is not None
            watcher.stdin.close()
        result: dict[str, Any] = {}
        while (line := lines.get(timeout=30)) != "":
            if line.startswith("result "):
                result = json.loads(line.removeprefix("result "))
        watcher.wait(timeout=30)
    result["published"] = published
    return result


@dataclass
class Tally:
    """One watcher's figures, summed over the rounds."""

    updates: int = 0
    missed: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    torn: int = 0
    reads: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, raw: dict[str, Any]) -> None:
        published: list[int] = raw["published"]
        updates = len(published)
        seen: set[int] = set()
        newest = 0
        for seq, t in raw["deliveries"]:
            if seq in seen:
                self.duplicates += 1
            elif seq < newest:
                self.out_of_order += 1
            seen.add(seq)
            for k in range(newest + 1, min(seq, updates) + 1):
                self.latencies.append(t - published[k - 1])
            newest = max(newest, seq)
        self.updates += updates
        self.missed += sum(1 for k in range(1, updates + 1) if k not in seen)
        self.torn += raw["torn"] + raw["errors"]
        self.reads += raw["reads"]

    def row(self, kind: str) -> list[object]:
        never = self.updates - len(self.latencies)
        return [
            f"{kind} ({never} never arrived)" if never else kind,
            f"{self.updates - self.missed}/{self.updates}",
            self.missed,
            self.duplicates,
            self.out_of_order,
            self.torn,
            f"{self.reads / self.updates:.2f}",
            fmt_ns(percentile(self.latencies, 50)),
            fmt_ns(percentile(self.latencies, 99)),
            fmt_ns(max(self.latencies, default=float("nan"))),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"of {', '.join(KINDS)} (all)")
    parser.add_argument("--quick", action="store_true", help="1 round of 100 updates")
    parser.add_argument("--rounds", type=int, help="rounds per watcher (4; --quick: 1)")
    parser.add_argument("--updates", type=int, help="updates per round (250; --quick: 100)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--writer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 4)
    updates = args.updates or (100 if args.quick else 250)
    if args.writer:
        run_writer(args.writer, updates, args.seed)
        return

    kinds = args.kinds or list(KINDS)
    if unknown := set(kinds) - set(KINDS):
        parser.error(
            f"unknown watcher {', '.join(sorted(unknown))}; choose from {', '.join(KINDS)}"
        )
    print("## Detection latency: ..data rename -> callback holds the new value\n")
    print(
        f"{machine_note()}; {rounds} x {updates} AtomicWriter updates per watcher, a random "
        f"{GAP_MS[0]:g}-{GAP_MS[1]:g} ms pause after each (seed {args.seed}); each watcher in "
        "its own process, one at a time, taking turns round by round.\n",
        flush=True,
    )
    tallies = {kind: Tally() for kind in kinds}
    for round_no in range(rounds):
        # Turns rotate so that no watcher always runs first, or always right after another.
        order = kinds[round_no % len(kinds) :] + kinds[: round_no % len(kinds)]
        for kind in order:
            tallies[kind].add(measure(kind, updates, args.seed + round_no))
        print(f"  round {round_no + 1}/{rounds} done", file=sys.stderr, flush=True)
    print(
        table(
            [
                "watcher",
                "delivered",
                "missed",
                "dup",
                "out of order",
                "torn/err",
                "reads/update",
                "median",
                "p99",
                "max",
            ],
            [tallies[kind].row(kind) for kind in kinds],
        )
    )
    print(
        "\nmissed: versions never delivered (a newer one came first); latency of a missed "
        "version runs until a newer one was delivered. reads/update: file reads+parses per "
        "update (kubereload: snapshot reads).\n"
    )


if __name__ == "__main__":
    main()

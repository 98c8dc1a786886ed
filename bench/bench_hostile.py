"""Hostile input: time to reject (or accept) and peak extra memory, beside plain PyYAML.

    python bench/bench_hostile.py [--quick]

Each measurement runs in a fresh interpreter, so its peak memory is its own: the input is
prepared and every module imported first, then ``VmHWM`` (the peak resident set) is read before
and after the one operation timed; "peak extra RSS" is the difference. The cases:

- the YAML alias bomb of the issue (9 levels of 9 aliases: 387 million strings once expanded;
  414 bytes as written here, 422 in the issue), through ``kubereload.config.parse``, through
  ``kubereload.watch`` with a pydantic model that has ``JsonValue`` fields (the case that cost
  30 s and 865 MB), and through ``yaml.safe_load`` (which shares aliased nodes, so it alone is
  cheap; what expands them is whatever walks the result). The cost of that walk is shown on a
  6-level bomb (531,441 strings) with ``yaml.safe_load`` + the same pydantic model: the 9-level
  one takes minutes.
- a 1 MiB YAML document (the API server's cap on a ConfigMap), accepted: ``kubereload.watch``
  and ``kubereload.config.parse`` beside ``yaml.safe_load`` on the same bytes.
- a 200 MB file: ``kubereload.watch`` refuses it from ``fstat`` before reading; beside it, what
  merely reading it costs (``Path.read_bytes``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table


def alias_bomb(levels: int) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"
    text = "a: &a [" + ", ".join(['"lol"'] * 9) + "]\n"
    for i in range(1, levels):
        text += f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * 9) + "]\n"
    return text


def one_mib_yaml() -> str:
    lines, size, i = [], 0, 0
    while True:
        line = f"item{i}:\n  name: service-{i}\n  port: {i % 65535}\n  tags: [a, b, c]\n"
        if size + len(line) > 1024 * 1024:
            break
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)


# The measured program: prepare, import, read VmHWM, run one operation, read VmHWM again.
CHILD = r"""
import json, sys, time
from pathlib import Path
case, path = sys.argv[1], Path(sys.argv[2])
data = path.read_bytes() if path.stat().st_size < 10_000_000 else b""

import yaml
from pydantic import BaseModel, JsonValue
import kubereload
from kubereload.config import ConfigError, parse

class Anything(BaseModel):
    a: JsonValue = None
    b: JsonValue = None
    c: JsonValue = None
    d: JsonValue = None
    e: JsonValue = None
    f: JsonValue = None
    g: JsonValue = None
    h: JsonValue = None
    i: JsonValue = None

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

def run():
    if case == "parse":
        try:
            parse(path.name, data)
            return "accepted"
        except ConfigError as exc:
            return "rejected: " + exc.kind
    if case == "watch":
        with kubereload.watch(path, model=Anything, default=None) as config:
            return "rejected: " + config.error.kind if config.error else "accepted"
    if case == "watch-plain":
        with kubereload.watch(path, default=None) as config:
            return "rejected: " + config.error.kind if config.error else "accepted"
    if case == "safe_load":
        yaml.load(data, Loader=yaml.CSafeLoader)
        return "accepted"
    if case == "safe_load+model":
        Anything.model_validate(yaml.load(data, Loader=yaml.CSafeLoader))
        return "accepted"
    if case == "read_bytes":
        path.read_bytes()
        return "read"
    raise SystemExit(case)

before = peak()
began = time.perf_counter_ns()
outcome = run()
took = time.perf_counter_ns() - began
print(json.dumps({"ns": took, "rss": peak() - before, "outcome": outcome}))
"""


def measure(case: str, path: Path, runs: int) -> tuple[list[float], list[int], str]:
    times, peaks, outcome = [], [], ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, case, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(result["ns"])
        peaks.append(result["rss"])
        outcome = result["outcome"]
    return times, peaks, outcome


def fmt_bytes(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    runs = 5 if args.quick else 30
    slow_runs = 2 if args.quick else 10  # the cases that take seconds each

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bomb = root / "bomb.yaml"
        bomb.write_text(alias_bomb(9))
        small_bomb = root / "bomb6.yaml"
        small_bomb.write_text(alias_bomb(6))
        mib = root / "big.yaml"
        mib.write_text(one_mib_yaml())
        huge = root / "huge.yaml"
        with huge.open("wb") as handle:  # sparse: its size is what matters, not its blocks
            handle.truncate(200 * 1024 * 1024)

        plan = [
            (f"alias bomb ({bomb.stat().st_size} B)", "kubereload.config.parse", "parse", bomb),
            ("", "kubereload.watch, JsonValue model", "watch", bomb),
            ("", "yaml.safe_load (nothing expanded yet)", "safe_load", bomb),
            (
                f"6-level bomb ({small_bomb.stat().st_size} B)",
                "yaml.safe_load + JsonValue model",
                "safe_load+model",
                small_bomb,
            ),
            ("", "kubereload.config.parse", "parse", small_bomb),
            (f"1 MiB YAML ({mib.stat().st_size:,} B)", "kubereload.watch", "watch-plain", mib),
            ("", "kubereload.config.parse", "parse", mib),
            ("", "yaml.safe_load", "safe_load", mib),
            ("200 MB file (sparse)", "kubereload.watch", "watch-plain", huge),
            ("", "Path.read_bytes (reading alone)", "read_bytes", huge),
        ]
        rows = []
        for label, who, case, path in plan:
            slow = path == mib or case in ("safe_load+model", "read_bytes")
            n = slow_runs if slow else runs
            times, peaks, outcome = measure(case, path, n)
            rows.append(
                [
                    label,
                    who,
                    outcome,
                    n,
                    fmt_ns(percentile(times, 50)),
                    fmt_ns(percentile(times, 99)),
                    fmt_bytes(percentile(peaks, 50)),
                    fmt_bytes(max(peaks)),
                ]
            )

    print("## Hostile input: time to reject or accept, peak extra RSS\n")
    print(f"{machine_note()}; each run in a fresh interpreter\n")
    headers = ["input", "reader", "outcome", "runs", "median", "p99", "RSS median", "RSS max"]
    print(table(headers, rows))
    print()


if __name__ == "__main__":
    main()

"""Run every ``bench/bench_*.py`` in turn and print their tables (``make bench``).

    python bench/run_all.py [--quick] [NAME ...]

Each benchmark is a standalone script run in a fresh interpreter, one after the other so they
do not compete for the cores. ``--quick`` is passed on to each (a smoke run: fewer iterations,
shorter idle). NAMEs pick some of them: ``detect``, ``bench_detect`` or ``bench_detect.py``.
Exits non-zero if any benchmark failed, after running the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, Path]:
    """Short name ("detect") -> script, for every bench_*.py beside this file."""
    return {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (all)")
    parser.add_argument("--quick", action="store_true", help="passed on to every benchmark")
    args = parser.parse_args()

    scripts = discover()
    wanted = [Path(name).stem.removeprefix("bench_") for name in args.names] or list(scripts)
    if unknown := [name for name in wanted if name not in scripts]:
        parser.error(f"no benchmark named {', '.join(unknown)}; have {', '.join(scripts)}")

    failed = []
    for name in wanted:
        command = [sys.executable, str(scripts[name]), *(["--quick"] if args.quick else [])]
        print(f"# {scripts[name].name}{' --quick' if args.quick else ''}\n", flush=True)
        began = time.monotonic()
        code = subprocess.call(command)
        took = time.monotonic() - began
        if code != 0:
            failed.append(name)
            print(f"!! {scripts[name].name} failed with exit status {code}\n", flush=True)
        print(f"({scripts[name].name} took {took:.0f} s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

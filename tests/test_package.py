"""``import kubereload``: light for the controller, and ``kubereload.watch`` stays the function."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_controller_loads_no_detector_and_no_yaml() -> None:
    code = (
        "import sys, kubereload.rollout.controller; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'yaml' "
        "or m.startswith('kubereload.watch')))"
    )
    assert run(code) == "[]"


def test_watch_is_the_function_before_and_after_the_subpackage_is_imported() -> None:
    code = (
        "import kubereload; before = kubereload.watch; "
        "from kubereload.watch import Detector; import kubereload.watch.detector; "
        "from kubereload import watch; "
        "print(callable(before), watch is before, kubereload.watch is before, "
        "Detector.__module__)"
    )
    assert run(code) == "True True True kubereload.watch.detector"

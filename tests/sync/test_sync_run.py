"""``kubereload run --configmap``: the API as the supervisor's source."""

from __future__ import annotations

import sys
from pathlib import Path

from kubeapi.server import KubeAPIServer
from support.objects import configmap
from support.process import kubereload, wait_until

# The child appends what it read to a file of its own: the test waits on that file.
CHILD = """
import signal, sys, time
path, seen = sys.argv[1], sys.argv[2]
def show(tag):
    with open(seen, "a") as out:
        out.write(f"{tag} {open(path).read().strip()}\\n")
signal.signal(signal.SIGHUP, lambda *_: show("reloaded"))
show("started")
while True:
    time.sleep(1)
"""


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_run_starts_the_child_with_the_object_and_reloads_it(
    api: KubeAPIServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api.create(configmap("app", {"message": "one"}))
    target = tmp_path / "config"
    seen = tmp_path / "seen"
    proc = kubereload(
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--configmap",
        "default/app",
        "--dir",
        str(target),
        "--",
        sys.executable,
        "-c",
        CHILD,
        str(target / "message"),
        str(seen),
    )
    try:
        wait_until(lambda: lines(seen) == ["started one"], what="the child started with one")
        api.update(configmap("app", {"message": "two"}))
        wait_until(lambda: lines(seen)[1:] == ["reloaded two"], what="the child reloaded two")
    finally:
        proc.stop()


def test_run_refuses_api_sources_without_one_dir(kubeconfig: Path, tmp_path: Path) -> None:
    proc = kubereload("run", "--kubeconfig", str(kubeconfig), "--configmap", "app", "--", "true")
    assert proc.wait() == 2
    assert "exactly one --dir" in proc.output()

"""``kubereload run --configmap``: the API as the supervisor's source."""

from __future__ import annotations

import sys
from pathlib import Path

from test_sync_cli import configmap

from cli.krproc import kubereload
from kubeapi.server import KubeAPIServer

CHILD = """
import signal, sys, time
path = sys.argv[1]
def show(tag):
    print(tag, open(path).read().strip(), flush=True)
signal.signal(signal.SIGHUP, lambda *_: show("reloaded"))
show("started")
while True:
    time.sleep(1)
"""


def test_run_starts_the_child_with_the_object_and_reloads_it(
    api: KubeAPIServer, api_kubeconfig: Path, tmp_path: Path
) -> None:
    api.create(configmap("app", {"message": "one"}))
    target = tmp_path / "config"
    proc = kubereload(
        "run",
        "--kubeconfig",
        str(api_kubeconfig),
        "--configmap",
        "default/app",
        "--dir",
        str(target),
        "--",
        sys.executable,
        "-c",
        CHILD,
        str(target / "message"),
    )
    try:
        proc.wait_for("^started one$")
        api.update(configmap("app", {"message": "two"}))
        proc.wait_for("^reloaded two$")
    finally:
        proc.stop()


def test_run_refuses_api_sources_without_one_dir(api_kubeconfig: Path, tmp_path: Path) -> None:
    proc = kubereload(
        "run", "--kubeconfig", str(api_kubeconfig), "--configmap", "app", "--", "true"
    )
    assert proc.wait() == 2
    assert "exactly one --dir" in proc.output()

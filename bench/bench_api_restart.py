"""``kubereload sync`` across restarts of the real kube-apiserver (envtest): how soon a change
reaches the file once the server is back, beside a change while it is up, in the same run.

    python bench/bench_api_restart.py [--quick] [--rounds N] [--outage SECONDS]

etcd + kube-apiserver from ``KUBEBUILDER_ASSETS`` (default ``../shared/envtest/bin``; etcd from
Debian's etcd-server), started by tests/support/controlplane.py. One real
``kubereload sync --configmap`` process writes one ConfigMap into a directory. A change is a PUT
through the API; its latency runs from sending the PUT until ``..data`` is renamed in the
directory (inotify IN_MOVED_TO). "Up": 30 changes (``--quick``: 10) one after the other.
"After a restart": the API server is stopped, kept down for ``--outage`` seconds (default 10;
``--quick``: 4) while sync's informer retries, started again; the PUT is sent as soon as
``/readyz`` answers ok. 5 restarts (``--quick``: 2). Skips (exit 0) without the binaries.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]
os.environ.setdefault("KUBEBUILDER_ASSETS", str(ROOT.parent / "shared" / "envtest" / "bin"))

from kubereload.watch import inotify  # noqa: E402
from support.controlplane import ControlPlane, unavailable  # noqa: E402


class DataRenames:
    """Counts renames onto ``..data`` in one directory (each is one new version)."""

    def __init__(self, directory: Path) -> None:
        self._inotify = inotify.Inotify()
        self._inotify.add_watch(str(directory), inotify.IN_MOVED_TO)

    def wait(self, timeout: float = 60.0) -> float:
        """Block until the next rename onto ..data; returns time.perf_counter() then."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no new version in the directory")
            ready, _, _ = select.select([self._inotify], [], [], left)
            if ready and any(e.name == "..data" for e in self._inotify.read()):
                return time.perf_counter()


def put(plane: ControlPlane, namespace: str, value: str) -> float:
    """PUT the ConfigMap's new value; returns time.perf_counter() just before sending."""
    began = time.perf_counter()
    plane.ok(
        "PUT",
        f"/api/v1/namespaces/{namespace}/configmaps/app",
        {"metadata": {"name": "app"}, "data": {"app.yaml": f"v: {value}\n"}},
    )
    return began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None, help="restarts (default 5)")
    parser.add_argument("--outage", type=float, default=None, help="seconds down (default 10)")
    args = parser.parse_args()
    restarts = args.rounds or (2 if args.quick else 5)
    outage = args.outage if args.outage is not None else (4.0 if args.quick else 10.0)
    changes = 10 if args.quick else 30
    reason = unavailable()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-api-restart-"))
    target = work / "out"
    target.mkdir()
    up: list[float] = []
    after: list[float] = []
    try:
        with ControlPlane(work / "plane") as plane:
            ns = "bench"
            plane.create_namespace(ns)
            plane.ok(
                "POST",
                f"/api/v1/namespaces/{ns}/configmaps",
                {"metadata": {"name": "app"}, "data": {"app.yaml": "v: 0\n"}},
            )
            renames = DataRenames(target)
            command = [sys.executable, "-m", "kubereload", "sync"]
            sync = subprocess.Popen(
                [
                    *command,
                    *("--kubeconfig", str(plane.kubeconfig), "--configmap", f"{ns}/app"),
                    *("--dir", str(target), "--log-level", "warning"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                renames.wait()  # the first write
                for n in range(1, changes + 1):
                    sent = put(plane, ns, f"up-{n}")
                    up.append(renames.wait() - sent)
                for n in range(1, restarts + 1):
                    plane.stop_apiserver()
                    time.sleep(outage)  # the outage itself is what is measured across
                    plane.start_apiserver()
                    sent = put(plane, ns, f"restart-{n}")
                    after.append(renames.wait() - sent)
            finally:
                sync.terminate()
                sync.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(label: str, values: list[float]) -> list[object]:
        ns = [v * 1e9 for v in values]
        return [
            label,
            len(ns),
            fmt_ns(percentile(ns, 50)),
            fmt_ns(percentile(ns, 99)),
            fmt_ns(max(ns)),
        ]

    print(machine_note())
    print(f"kube-apiserver v1.24 (envtest), outage {outage:g} s before each restart\n")
    print(
        table(
            ["change -> file (kubereload sync)", "n", "p50", "p99", "max"],
            [row("API server up", up), row("first change after a restart", after)],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

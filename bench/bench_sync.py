"""``kubereload sync`` against the test API server on loopback: latency, first sync, memory, CPU.

    python bench/bench_sync.py [--quick]

1. Latency: one ConfigMap synced by a real ``kubereload sync --configmap ... --webhook ...``
   process. Each round sends a JSON merge PATCH over HTTP to the API server and records, from
   the moment the request is sent, when ``..data`` is renamed in the target directory (inotify,
   IN_MOVED_TO) and when the webhook receives its POST. 200 rounds (``--quick``: 30), one at a
   time, each after the previous webhook arrived.
2. Scale: 2 000 ConfigMaps of ~1 KB, ``kubereload sync --selector``: time from spawning the
   process to its "first sync done" log line (all 2 000 directories written), CPU seconds
   (utime+stime from /proc) and RSS at that moment, then CPU use while idle for 30 s
   (``--quick``: 5 s) and RSS after it. The server sends a bookmark a minute, as a real one
   does to an idle watch.

kiwigrid/k8s-sidecar is not on PyPI (a GitHub project run as a container image), so it is not
run side by side here: its column quotes the figures measured against a real API server that
issue 4 reports. The API server here is an in-process Python server, in this process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from kubeapi.server import KubeAPIServer  # noqa: E402
from kubereload.watch.inotify import IN_MOVED_TO, Inotify  # noqa: E402
from support.objects import configmap  # noqa: E402
from support.process import KUBERELOAD, Proc, cpu_seconds, memory_mb  # noqa: E402
from support.webhook import Receiver  # noqa: E402

SIDECAR = {  # kiwigrid/k8s-sidecar, as measured in issue 4 (real API server)
    "patch_file_median": "≈ 9 ms",
    "patch_file_p99": "≈ 18 ms",
    "rss_idle": "76 MB",
    "rss_2000": "96 MB",
    "first_sync": "7.9 s",
    "first_sync_cpu": "5.7 s",
    "idle_cpu": "≈ 2.3 %",
}
TARGETS = {
    "patch_file_median": "≤ 5 ms",
    "patch_file_p99": "≤ 15 ms",
    "rss_2000": "≤ 45 MB",
    "first_sync": "≤ 2 s",
    "idle_cpu": "≈ 0",
}


def one_kb(i: int) -> str:
    line = f"key-{i}: value number {i} of the benchmark configuration\n"
    return (line * (1024 // len(line) + 1))[:1024]


class Swaps:
    """perf_counter() of every rename onto ``..data`` in a directory, from an inotify thread."""

    def __init__(self, directory: Path) -> None:
        self.times: list[float] = []
        self.cond = threading.Condition()
        self._inotify = Inotify()
        self._inotify.add_watch(str(directory), IN_MOVED_TO)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._inotify.fileno(), select.POLLIN)
        while True:
            poller.poll()
            now = time.perf_counter()
            events = self._inotify.read()
            with self.cond:
                self.times += [now for e in events if e.name == "..data"]
                self.cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.times) >= count, timeout):
                raise RuntimeError(f"no swap {count} within {timeout} s")
            return self.times[count - 1]


def sync(*args: str) -> Proc:
    """A ``kubereload sync`` process; when each line of its log appeared is noted."""
    return Proc([*KUBERELOAD, "sync", *args])


def patch(conn: http.client.HTTPConnection, token: str, name: str, data: dict[str, str]) -> None:
    body = json.dumps({"data": data})
    conn.request(
        "PATCH",
        f"/api/v1/namespaces/default/configmaps/{name}",
        body=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/merge-patch+json",
        },
    )
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"PATCH answered {response.status}")


def latency(rounds: int, work: Path) -> dict[str, Any]:
    with KubeAPIServer() as api:
        api.create(configmap("app", {"app.yaml": one_kb(0)}))
        kubeconfig = api.write_kubeconfig(work / "kubeconfig")
        target = work / "latency"
        target.mkdir()
        swaps = Swaps(target)
        receiver = Receiver()
        proc = sync(
            "--kubeconfig",
            str(kubeconfig),
            "--configmap",
            "app",
            "--dir",
            str(target),
            "--webhook",
            receiver.url,
            "--log-level",
            "warning",
        )
        try:
            receiver.wait_calls(1, timeout=60)
            host, port = api.url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port))
            to_file, to_hook = [], []
            assert api.token is not None
            for i in range(1, rounds + 1):
                sent = time.perf_counter()
                patch(conn, api.token, "app", {"app.yaml": one_kb(i)})
                receiver.wait_calls(i + 1)
                to_hook.append(receiver.times[i] - sent)
                to_file.append(swaps.wait(i + 1) - sent)
            rss = memory_mb(proc.pid)
        finally:
            proc.stop()
            receiver.close()
    return {"file": to_file, "hook": to_hook, "rss_idle": rss}


def scale(count: int, idle: float, work: Path) -> dict[str, float]:
    # Bookmarks once a minute, as a real API server sends them to an idle watch.
    with KubeAPIServer(bookmark_interval=60.0) as api:
        for i in range(count):
            api.create(
                configmap(f"cm-{i:05d}", {"config.yaml": one_kb(i)}, labels={"bench": "sync"})
            )
        kubeconfig = api.write_kubeconfig(work / "kubeconfig-scale")
        target = work / "scale"
        proc = sync(
            "--kubeconfig", str(kubeconfig), "--selector", "bench=sync", "--dir", str(target)
        )
        try:
            # the process's own word for "all written": the moment its line was read
            proc.wait_logged(f"first sync done: {count} objects", timeout=120)
            done = proc.logged_at(f"first sync done: {count} objects")
            first_sync = done - proc.started
            # The first log line comes once Python has started and imported everything.
            after_start = done - proc.logged_at("syncing ")
            (user, system), rss_sync = cpu_seconds(proc.pid), memory_mb(proc.pid)
            rss_peak = memory_mb(proc.pid, "VmHWM")
            written = len(os.listdir(target))
            if written != count:
                raise RuntimeError(f"{written} directories written, expected {count}")
            before = sum(cpu_seconds(proc.pid))
            time.sleep(idle)  # the measurement itself: nothing happens on purpose
            idle_cpu = (sum(cpu_seconds(proc.pid)) - before) / idle * 100
            rss_after = memory_mb(proc.pid)
        finally:
            proc.stop()
    return {
        "first_sync": first_sync,
        "after_start": after_start,
        "rss_peak": rss_peak,
        "cpu": user + system,
        "user": user,
        "system": system,
        "rss": rss_sync,
        "idle_cpu": idle_cpu,
        "rss_after": rss_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 rounds, 5 s idle")
    parser.add_argument("--count", type=int, default=2000, help="ConfigMaps for the scale run")
    parser.add_argument(
        "--tmp",
        help="where the target directories go (default: the system temp dir; "
        "/dev/shm is a tmpfs, like an emptyDir with medium: Memory)",
    )
    args = parser.parse_args()
    rounds, idle = (30, 5.0) if args.quick else (200, 30.0)
    with tempfile.TemporaryDirectory(prefix="bench-sync-", dir=args.tmp) as tmp:
        work = Path(tmp)
        lat = latency(rounds, work)
        big = scale(args.count, idle, work)

    def ms(values: list[float], q: float) -> str:
        return fmt_ns(percentile(values, q) * 1e9)

    rows = [
        [
            "PATCH sent → ..data swapped, median",
            ms(lat["file"], 50),
            SIDECAR["patch_file_median"],
            TARGETS["patch_file_median"],
        ],
        [
            "PATCH sent → ..data swapped, p99",
            ms(lat["file"], 99),
            SIDECAR["patch_file_p99"],
            TARGETS["patch_file_p99"],
        ],
        ["PATCH sent → webhook received, median", ms(lat["hook"], 50), "-", "-"],
        ["PATCH sent → webhook received, p99", ms(lat["hook"], 99), "-", "-"],
        ["RSS, one ConfigMap, idle", f"{lat['rss_idle']:.1f} MB", SIDECAR["rss_idle"], "-"],
        [
            f"first full sync of {args.count} (process start → all written)",
            f"{big['first_sync']:.2f} s",
            SIDECAR["first_sync"],
            TARGETS["first_sync"],
        ],
        [
            "… of which after start-up (first log line → all written)",
            f"{big['after_start']:.2f} s",
            "-",
            "-",
        ],
        [
            "CPU seconds for it, start-up included (user + system)",
            f"{big['cpu']:.2f} s ({big['user']:.2f} + {big['system']:.2f})",
            SIDECAR["first_sync_cpu"],
            "-",
        ],
        [
            f"RSS with {args.count}, just synced",
            f"{big['rss']:.1f} MB",
            SIDECAR["rss_2000"],
            TARGETS["rss_2000"],
        ],
        [
            f"peak RSS during the first sync of {args.count}",
            f"{big['rss_peak']:.1f} MB",
            "-",
            "-",
        ],
        [f"RSS with {args.count}, after {idle:g} s idle", f"{big['rss_after']:.1f} MB", "-", "-"],
        [
            f"idle CPU over {idle:g} s",
            f"{big['idle_cpu']:.2f} %",
            SIDECAR["idle_cpu"],
            TARGETS["idle_cpu"],
        ],
    ]
    print(machine_note())
    where = args.tmp or tempfile.gettempdir()
    print(
        f"{rounds} PATCH rounds of a 1 KB ConfigMap; {args.count} ConfigMaps of 1 KB; "
        f"files in {where}\n"
    )
    print(
        table(["measure", "kubereload sync", "k8s-sidecar (issue 4, not run here)", "target"], rows)
    )


if __name__ == "__main__":
    main()

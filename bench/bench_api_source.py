"""The library's API source: PATCH → ``get()``, beside a bare watch client and ``sync`` + a
volume watch; then the memory and idle CPU of one API watch against one file watch.

    python bench/bench_api_source.py [--quick] [--server envtest|kubeapi]

The API server is the real kube-apiserver + etcd from ``KUBEBUILDER_ASSETS`` (envtest) when it
is set, else the project's test API server. Every contender runs in its own process and watches
its own ConfigMap, so a PATCH wakes only the one being measured; the rounds alternate between
them (rotating order), so each samples the same stretches of background load.

1. Latency. The bench sends a JSON merge PATCH of ``app.yaml`` (``seq: N`` plus ~1 KB) and
   reads CLOCK_MONOTONIC just before sending; each contender reads it when its application
   code holds the parsed new value. 200 rounds each (``--quick``: 30).
   - **bare watch client** (the floor): ``http.client`` streaming one watch (list, then watch
     from its resourceVersion, field selector on the name), ``json.loads`` per line, the YAML
     parsed with the same loader kubereload uses. No resume, no 410, no consistency: the least
     a Python client can do.
   - **kubereload API source**: ``kubereload.watch_configmap(name, key="app.yaml")``; timed in
     ``on_change`` by ``config.get()``.
   - **sync + volume watch**: a ``kubereload sync --configmap`` process writing the kubelet's
     layout into a directory, and ``kubereload.watch(dir / "app.yaml")`` in the application.
2. Idle cost. One process with ``kubereload.watch_configmap`` and one with ``kubereload.watch``
   on a file (and a bare interpreter that imported kubereload, for reference), each idle for
   30 s (``--quick``: 5 s): RSS, CPU and wake-ups (voluntary context switches, all threads).
   Also a file watch in an application that already uses ``ssl`` and ``asyncio`` (most web
   services do: the API source's OpenSSL and event loop are then already paid for), and the
   ``kubereload sync`` process that an API source makes unnecessary.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from kubeapi.server import KubeAPIServer  # noqa: E402
from support.controlplane import ControlPlane, assets_dir, unavailable  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
NAMESPACE = "default"
PADDING = "".join(f"# padding line {i:03d} of the benchmark configuration\n" for i in range(18))

FLOOR = r"""
import http.client, json, ssl, sys, time, yaml
from urllib.parse import urlsplit
server, token, ca, namespace, name = sys.argv[1:6]
url = urlsplit(server)
if url.scheme == "https":
    tls = ssl.create_default_context(cafile=ca or None)
    tls.check_hostname = False
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=tls)
else:
    conn = http.client.HTTPConnection(url.hostname, url.port)
headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
path = f"/api/v1/namespaces/{namespace}/configmaps?fieldSelector=metadata.name%3D{name}"
conn.request("GET", path, headers=headers)
rv = json.loads(conn.getresponse().read())["metadata"]["resourceVersion"]
conn.request("GET", f"{path}&watch=true&allowWatchBookmarks=true&resourceVersion={rv}",
             headers=headers)
response = conn.getresponse()
load = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
print("ready", flush=True)
for line in response:
    event = json.loads(line)
    if event["type"] != "MODIFIED":
        continue
    value = yaml.load(event["object"]["data"]["app.yaml"], Loader=load)
    print(value["seq"], time.monotonic_ns(), flush=True)
"""

LIBRARY = r"""
import sys, time, kubereload
kubeconfig, namespace, name = sys.argv[1:4]
config = kubereload.watch_configmap(name, key="app.yaml", namespace=namespace,
                                    kubeconfig=kubeconfig)
config.on_change(lambda old, new: print(config.get()["seq"], time.monotonic_ns(), flush=True))
print("ready", flush=True)
sys.stdin.read()
"""

VOLUME = r"""
import sys, time, kubereload
config = kubereload.watch(sys.argv[1])
config.on_change(lambda old, new: print(config.get()["seq"], time.monotonic_ns(), flush=True))
print("ready", flush=True)
sys.stdin.read()
"""

IDLE = r"""
import sys, kubereload
what, arg = sys.argv[1], sys.argv[2:]
if what == "api":
    config = kubereload.watch_configmap(arg[2], key="app.yaml", namespace=arg[1], kubeconfig=arg[0])
elif what == "file":
    config = kubereload.watch(arg[0])
elif what == "file+tls":  # an application that already speaks HTTPS (most web services do)
    import asyncio, ssl
    ssl.create_default_context()
    config = kubereload.watch(arg[0])
print("ready", flush=True)
sys.stdin.read()
"""


def body(seq: int) -> str:
    return f"seq: {seq}\n{PADDING}"


def configmap(name: str, seq: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"app.yaml": body(seq)},
    }


@dataclass
class Server:
    """Where the bench sends its PATCHes and what the contenders connect with."""

    url: str
    token: str
    ca: str
    kubeconfig: Path
    name: str

    def connection(self) -> http.client.HTTPConnection:
        host, port = self.url.split("://")[1].split(":")
        if self.url.startswith("https"):
            tls = ssl.create_default_context(cafile=self.ca)
            tls.check_hostname = False
            return http.client.HTTPSConnection(host, int(port), context=tls)
        return http.client.HTTPConnection(host, int(port))

    def request(
        self, conn: http.client.HTTPConnection, method: str, path: str, obj: Any, kind: str
    ) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": kind}
        conn.request(method, path, body=json.dumps(obj), headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status}")


@contextmanager
def api_server(kind: str, work: Path) -> Iterator[Server]:
    if kind == "envtest":
        with ControlPlane(work / "controlplane") as plane:
            yield Server(
                plane.url, plane.token, str(plane.ca_file), plane.kubeconfig,
                "kube-apiserver v1.24 + etcd (envtest)",
            )  # fmt: skip
    else:
        with KubeAPIServer(bookmark_interval=60.0) as api:
            assert api.token is not None
            kubeconfig = api.write_kubeconfig(work / "kubeconfig")
            yield Server(api.url, api.token, "", kubeconfig, "the test API server (Python)")


class Child:
    """A contender's process: its stdout lines are ``seq monotonic_ns`` after ``ready``."""

    def __init__(self, command: list[str], *, ready: bool = True) -> None:
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.seen: dict[int, int] = {}
        self.ready = threading.Event()
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        if ready and not self.ready.wait(120):
            raise RuntimeError(f"{command[:3]} never became ready")

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if line.strip() == "ready":
                self.ready.set()
                continue
            seq, at = line.split()
            with self.cond:
                self.seen.setdefault(int(seq), int(at))
                self.cond.notify_all()

    def wait(self, seq: int, timeout: float = 30.0) -> int:
        with self.cond:
            if not self.cond.wait_for(lambda: seq in self.seen, timeout):
                raise RuntimeError(f"seq {seq} not seen within {timeout} s")
            return self.seen[seq]

    def stop(self) -> None:
        self.popen.kill()
        self.popen.wait(10)

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.popen.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def wakeups(self) -> int:
        """Voluntary context switches of every thread so far: each is one wake-up from sleep."""
        total = 0
        for task in Path(f"/proc/{self.popen.pid}/task").iterdir():
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        return total

    def threads(self) -> int:
        return len(list(Path(f"/proc/{self.popen.pid}/task").iterdir()))


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def sync_command(server: Server, configmap: str, target: Path) -> list[str]:
    """``kubereload sync`` writing ConfigMap ``configmap`` into ``target``."""
    return [
        sys.executable, "-m", "kubereload", "sync", "--kubeconfig", str(server.kubeconfig),
        "--configmap", configmap, "--dir", str(target), "--log-level", "warning",
    ]  # fmt: skip


def latency(server: Server, rounds: int, work: Path) -> dict[str, list[float]]:
    conn = server.connection()
    names = {"bare watch client": "floor", "kubereload API source": "lib", "sync + volume": "sync"}
    for name in names.values():
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        server.request(conn, "POST", path, configmap(name, 0), "application/json")
    target = work / "synced"
    sync = Child(sync_command(server, "sync", target), ready=False)
    children: dict[str, Child] = {}
    try:
        deadline = time.monotonic() + 60
        while not (target / "app.yaml").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("sync never wrote app.yaml")
            time.sleep(0.05)
        children = {
            "bare watch client": Child(
                python(FLOOR, server.url, server.token, server.ca, NAMESPACE, "floor")
            ),
            "kubereload API source": Child(
                python(LIBRARY, str(server.kubeconfig), NAMESPACE, "lib")
            ),
            "sync + volume": Child(python(VOLUME, str(target / "app.yaml"))),
        }
        results: dict[str, list[float]] = {label: [] for label in children}
        order = list(children)
        for seq in range(1, rounds + 1):
            order = order[1:] + order[:1]
            for label in order:
                path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{names[label]}"
                patch = {"data": {"app.yaml": body(seq)}}
                sent = time.monotonic_ns()
                server.request(conn, "PATCH", path, patch, "application/merge-patch+json")
                got = children[label].wait(seq)
                results[label].append(got - sent)
        return results
    finally:
        for child in children.values():
            child.stop()
        sync.stop()


def idle_cost(server: Server, seconds: float, work: Path) -> dict[str, dict[str, float]]:
    conn = server.connection()
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    server.request(conn, "POST", path, configmap("idle", 0), "application/json")
    plain = work / "plain" / "app.yaml"
    plain.parent.mkdir()
    plain.write_text(body(0))
    synced = work / "idle-synced"
    kinds = {
        "import kubereload only": python(IDLE, "none"),
        "kubereload.watch (file)": python(IDLE, "file", str(plain)),
        "kubereload.watch (file), app already uses ssl + asyncio": python(
            IDLE, "file+tls", str(plain)
        ),
        "kubereload.watch_configmap (API)": python(
            IDLE, "api", str(server.kubeconfig), NAMESPACE, "idle"
        ),
        "kubereload sync (the sidecar that the API source replaces)": sync_command(
            server, "idle", synced
        ),
    }
    out: dict[str, dict[str, float]] = {}
    for label, command in kinds.items():
        child = Child(command, ready="sync" not in command)
        try:
            time.sleep(2.0)  # start-up work (imports, first list) settles
            cpu, wakeups = child.cpu_seconds(), child.wakeups()
            time.sleep(seconds)  # the measurement itself: nothing happens on purpose
            out[label] = {
                "rss": child.rss_mb(),
                "cpu": (child.cpu_seconds() - cpu) / seconds * 100,
                "wakeups": (child.wakeups() - wakeups) / seconds * 60,
                "threads": child.threads(),
            }
        finally:
            child.stop()
    return out


def signed(ns: float) -> str:
    return f"{'+' if ns >= 0 else '-'}{fmt_ns(abs(ns))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 rounds, 5 s idle")
    default = "envtest" if os.environ.get("KUBEBUILDER_ASSETS") and assets_dir() else "kubeapi"
    parser.add_argument("--server", choices=["envtest", "kubeapi"], default=default)
    args = parser.parse_args()
    if args.server == "envtest" and (reason := unavailable()):
        parser.error(f"envtest: {reason}")
    rounds, idle = (30, 5.0) if args.quick else (200, 30.0)
    with tempfile.TemporaryDirectory(prefix="bench-api-source-") as tmp:
        work = Path(tmp)
        with api_server(args.server, work) as server:
            lat = latency(server, rounds, work)
            cost = idle_cost(server, idle, work)

    floor = percentile(lat["bare watch client"], 50)
    rows = []
    for label, values in lat.items():
        median = percentile(values, 50)
        rows.append(
            [
                label,
                len(values),
                fmt_ns(median),
                fmt_ns(percentile(values, 99)),
                fmt_ns(max(values)),
                "-" if label == "bare watch client" else signed(median - floor),
            ]
        )
    print(machine_note())
    print(f"API server: {server.name}; {rounds} PATCHes per contender, alternating\n")
    print(
        table(["PATCH sent → new value in the app", "n", "median", "p99", "max", "vs floor"], rows)
    )
    file_rss = cost["kubereload.watch (file)"]["rss"]
    tls_rss = cost["kubereload.watch (file), app already uses ssl + asyncio"]["rss"]

    def versus(label: str, base: float) -> str:
        return f"{cost[label]['rss'] - base:+.1f} MB" if "watch" in label else "-"

    print()
    idle_rows = [
        [
            label,
            f"{c['rss']:.1f} MB",
            versus(label, file_rss),
            versus(label, tls_rss),
            f"{c['cpu']:.3f} %",
            f"{c['wakeups']:.1f}",
            int(c["threads"]),
        ]
        for label, c in cost.items()
    ]
    headers = [f"idle {idle:g} s", "RSS", "vs file watch", "vs file watch, HTTPS app"]
    print(table([*headers, "CPU", "wake-ups/min", "threads"], idle_rows))


if __name__ == "__main__":
    main()

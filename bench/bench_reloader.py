"""``kubereload controller`` beside stakater/Reloader v1.0.1 on a real kube-apiserver, one run.

    python bench/bench_reloader.py [--quick | --large] [--configmaps N] [--secrets N]
                                   [--deployments N]

etcd + kube-apiserver from ``KUBEBUILDER_ASSETS`` (default ``../shared/envtest/bin``) started by
tests/support/controlplane.py; Reloader from ``../shared/anchors/bin/reloader``. Namespace
``bench`` holds N ConfigMaps and N Secrets of 4 KB and M Deployments (default 2 000 + 2 000 +
1 000; ``--quick``: 200 + 200 + 100; ``--large``: 10 000 + 10 000 + 5 000), Deployment j using
ConfigMaps 2j (volume) and 2j+1 (envFrom) and Secret j (volume), annotated
``reloader.stakater.com/auto: "true"``. Each tool runs alone, in turn, with default flags
(Reloader: ``--reload-strategy=annotations``, as kubereload's default; kubereload:
``--namespace bench``):

- CPU seconds and RSS from start until idle (no CPU used for 2 s): the first full sync (neither
  tool writes anything at start with default flags);
- one change -> pod template patched: a PUT of one ConfigMap, timed until a watch on the
  Deployments sees that Deployment's template annotations change; 30 changes, each to another
  Deployment's ConfigMap, one after the other;
- rollouts caused by a restart of the tool (template changes while it starts again and syncs);
- a burst of 20 PUTs in a row to one ConfigMap -> rollouts of its Deployment (counted 5 s after);
- kubereload again with ``--rate-limit 0`` (documented "no limit"): of 10 changes, how many
  rolled within 10 s each.

Skips (exit 0) without the binaries.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _table import machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]
os.environ.setdefault("KUBEBUILDER_ASSETS", str(ROOT.parent / "shared" / "envtest" / "bin"))
RELOADER = ROOT.parent / "shared" / "anchors" / "bin" / "reloader"

from support.controlplane import ControlPlane, unavailable  # noqa: E402

NS = "bench"
VALUE = "x" * 4096
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def configmap(i: int, value: str = VALUE) -> dict[str, Any]:
    return {"metadata": {"name": f"cm-{i}", "namespace": NS}, "data": {"app.conf": value}}


def secret(i: int) -> dict[str, Any]:
    data = base64.b64encode(VALUE.encode()).decode()
    return {"metadata": {"name": f"sec-{i}", "namespace": NS}, "data": {"token": data}}


def deployment(j: int) -> dict[str, Any]:
    name = f"app-{j}"
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "annotations": {"reloader.stakater.com/auto": "true"},
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.k8s.io/pause:3.9",
                            "envFrom": [{"configMapRef": {"name": f"cm-{2 * j + 1}"}}],
                            "volumeMounts": [
                                {"name": "conf", "mountPath": "/etc/app"},
                                {"name": "token", "mountPath": "/etc/token"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "conf", "configMap": {"name": f"cm-{2 * j}"}},
                        {"name": "token", "secret": {"secretName": f"sec-{j}"}},
                    ],
                },
            },
        },
    }


def populate(plane: ControlPlane, configmaps: int, secrets: int, deployments: int) -> None:
    plane.create_namespace(NS)
    jobs = [(f"/api/v1/namespaces/{NS}/configmaps", configmap(i)) for i in range(configmaps)]
    jobs += [(f"/api/v1/namespaces/{NS}/secrets", secret(i)) for i in range(secrets)]
    jobs += [
        (f"/apis/apps/v1/namespaces/{NS}/deployments", deployment(j)) for j in range(deployments)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: plane.ok("POST", *job), jobs))


class TemplateWatch:
    """Every change of a Deployment's pod template annotations, with when it was seen."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.changes: list[tuple[float, str]] = []
        self._known: dict[str, Any] = {}
        self._cond = threading.Condition()
        listed = plane.ok("GET", f"/apis/apps/v1/namespaces/{NS}/deployments")
        for item in listed["items"]:
            self._known[item["metadata"]["name"]] = self._annotations(item)
        self._rv = listed["metadata"]["resourceVersion"]
        threading.Thread(target=self._run, daemon=True).start()

    @staticmethod
    def _annotations(obj: dict[str, Any]) -> Any:
        return (obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}

    def _run(self) -> None:
        try:
            self._follow()
        except OSError:  # the control plane stopped at the end of the run
            return

    def _follow(self) -> None:
        while True:
            path = (
                f"/apis/apps/v1/namespaces/{NS}/deployments?watch=true"
                f"&resourceVersion={self._rv}&timeoutSeconds=3600"
            )
            req = urllib.request.Request(self.plane.url + path)
            req.add_header("Authorization", f"Bearer {self.plane.token}")
            with urllib.request.urlopen(req, context=self.plane._tls, timeout=3600) as stream:
                for line in stream:
                    event = json.loads(line)
                    obj = event["object"]
                    self._rv = obj["metadata"]["resourceVersion"]
                    name = obj["metadata"]["name"]
                    annotations = self._annotations(obj)
                    with self._cond:
                        if annotations != self._known.get(name):
                            self._known[name] = annotations
                            self.changes.append((time.perf_counter(), name))
                            self._cond.notify_all()

    def count(self, name: str | None = None) -> int:
        with self._cond:
            return sum(1 for _, n in self.changes if name is None or n == name)

    def wait_change(self, name: str, after: int, timeout: float) -> float | None:
        """When ``name`` had more than ``after`` template changes (perf_counter), or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = [t for t, n in self.changes if n == name]
                if len(seen) > after:
                    return seen[after]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


class Tool:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def settle(self, quiet: float = 2.0, timeout: float = 600.0) -> tuple[float, float]:
        """Wait until the process used no CPU for ``quiet`` s; (CPU seconds, RSS MB) then."""
        assert self.proc is not None
        pid, deadline = self.proc.pid, time.monotonic() + timeout
        time.sleep(1.0)
        last, still = cpu_seconds(pid), 0.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            time.sleep(0.25)
            now = cpu_seconds(pid)
            still = still + 0.25 if now - last < 0.005 else 0.0
            last = now
            if still >= quiet:
                break
        return last, rss_mb(pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def put(plane: ControlPlane, i: int, value: str) -> float:
    began = time.perf_counter()
    plane.ok("PUT", f"/api/v1/namespaces/{NS}/configmaps/cm-{i}", configmap(i, value))
    return began


def scenario(
    plane: ControlPlane, tool: Tool, watch: TemplateWatch, deployments: int, tag: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tool.start()
    out["cpu"], out["rss"] = tool.settle()
    latencies = []
    for n in range(30):
        j = (n * 7) % deployments
        before = watch.count(f"app-{j}")
        began = put(plane, 2 * j, f"{tag}-{n}-{VALUE}")
        seen = watch.wait_change(f"app-{j}", before, 30.0)
        latencies.append(float("nan") if seen is None else (seen - began) * 1000)
        time.sleep(0.2)
    out["latency"] = latencies
    tool.stop()
    before = watch.count()
    tool.start()
    out["restart_cpu"], out["restart_rss"] = tool.settle()
    out["restart_rollouts"] = watch.count() - before
    j = deployments - 1
    before = watch.count(f"app-{j}")
    for n in range(20):
        put(plane, 2 * j, f"{tag}-burst-{n}-{VALUE}")
    time.sleep(5.0)
    out["burst"] = watch.count(f"app-{j}") - before
    tool.stop()
    return out


def rate_limit_zero(plane: ControlPlane, tool: Tool, watch: TemplateWatch, deployments: int) -> int:
    tool.start()
    tool.settle()
    rolled = 0
    for n in range(10):
        j = (n * 13 + 3) % deployments
        before = watch.count(f"app-{j}")
        put(plane, 2 * j, f"rate0-{n}-{VALUE}")
        if watch.wait_change(f"app-{j}", before, 10.0) is not None:
            rolled += 1
    tool.stop()
    return rolled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="200 + 200 + 100")
    size.add_argument("--large", action="store_true", help="10 000 + 10 000 + 5 000")
    parser.add_argument("--configmaps", type=int)
    parser.add_argument("--secrets", type=int)
    parser.add_argument("--deployments", type=int)
    args = parser.parse_args()
    why = unavailable() or (None if RELOADER.is_file() else f"{RELOADER} is missing")
    if why:
        print(f"skipped: {why}")
        return 0
    scale = 0.1 if args.quick else 5 if args.large else 1
    configmaps = args.configmaps or int(2000 * scale)
    secrets = args.secrets or int(2000 * scale)
    deployments = args.deployments or int(1000 * scale)
    with (
        tempfile.TemporaryDirectory(prefix="bench-reloader-") as tmp,
        ControlPlane(Path(tmp) / "plane") as plane,
    ):
        began = time.monotonic()
        populate(plane, configmaps, secrets, deployments)
        print(f"populated in {time.monotonic() - began:.0f} s", file=sys.stderr)
        watch = TemplateWatch(plane)
        kubeconfig = plane.write_kubeconfig(Path(tmp) / "kubeconfig", namespace=NS)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERELOAD_")}
        ours_cmd = [
            sys.executable, "-m", "kubereload", "controller",
            "--kubeconfig", str(kubeconfig), "--namespace", NS,
        ]  # fmt: skip
        ours = Tool("kubereload", ours_cmd, base_env, Path(tmp) / "kubereload.log")
        theirs = Tool(
            "reloader",
            [str(RELOADER), "--reload-strategy=annotations"],
            {**base_env, "KUBECONFIG": str(kubeconfig), "KUBERNETES_NAMESPACE": NS},
            Path(tmp) / "reloader.log",
        )
        results = {
            "kubereload": scenario(plane, ours, watch, deployments, "k"),
            "reloader": scenario(plane, theirs, watch, deployments, "r"),
        }
        zero = Tool(
            "kubereload", [*ours_cmd, "--rate-limit", "0"], base_env, Path(tmp) / "zero.log"
        )
        rolled_zero = rate_limit_zero(plane, zero, watch, deployments)

    def ms(values: list[float], q: float) -> str:
        return f"{percentile([v for v in values if not math.isnan(v)], q):.0f} ms"

    k, r = results["kubereload"], results["reloader"]
    print(machine_note())
    print(
        f"real kube-apiserver, namespace {NS}: {configmaps} ConfigMaps + {secrets} Secrets "
        f"(4 KB) + {deployments} Deployments; each tool alone, in turn"
    )
    rows = [
        ("CPU s, start until idle (first start)", f"{k['cpu']:.2f}", f"{r['cpu']:.2f}"),
        ("CPU s, start until idle (restart)", f"{k['restart_cpu']:.2f}", f"{r['restart_cpu']:.2f}"),
        ("RSS after sync (first start)", f"{k['rss']:.0f} MB", f"{r['rss']:.0f} MB"),
        ("RSS after sync (restart)", f"{k['restart_rss']:.0f} MB", f"{r['restart_rss']:.0f} MB"),
        ("one change -> template patched, p50", ms(k["latency"], 50), ms(r["latency"], 50)),
        ("one change -> template patched, p99", ms(k["latency"], 99), ms(r["latency"], 99)),
        ("changes that never rolled (of 30)", *(
            str(sum(1 for v in x["latency"] if math.isnan(v))) for x in (k, r)
        )),
        ("burst of 20 changes -> rollouts", str(k["burst"]), str(r["burst"])),
        ("rollouts caused by a restart", str(k["restart_rollouts"]), str(r["restart_rollouts"])),
        ("--rate-limit 0: changes rolled within 10 s", f"{rolled_zero} of 10", "-"),
    ]  # fmt: skip
    print(table(["figure", "kubereload", "Reloader v1.0.1"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

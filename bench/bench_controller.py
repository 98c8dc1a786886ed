"""``kubereload controller`` at scale on the test API server: sync time, memory, latency, CPU.

    python bench/bench_controller.py [--quick]

The scenario of issue 5: 10 000 ConfigMaps and 10 000 Secrets of 4 KB each, and 5 000
Deployments annotated ``reloader.stakater.com/auto`` that each use 2 ConfigMaps and 2 Secrets
(a volume and envFrom of each), so every object is used. ``--quick``: a tenth of it.

1. Initial sync: from spawning a real ``kubereload controller`` process to its log line
   "compared N workloads" (every object listed, every workload compared and adopted: in
   memory, nothing written), with the CPU seconds (utime+stime from /proc) and RSS then.
2. Change -> patch: 200 rounds (``--quick``: 30), one at a time: a JSON merge PATCH of one
   ConfigMap sent over HTTP to the API server, until the Deployment using it has its new config
   hash on the pod template (seen in the server's store). ``--debounce 0s --rate-limit 0``:
   the controller's own latency, not its storm control.
3. CPU per 1 000 changes: the controller's CPU seconds over the change phase, scaled.

stakater/Reloader (a Go binary shipped as a container image) cannot run here, so it is not
side by side; its users report memory in gigabytes on big clusters (issue 5). The API server is
an in-process Python server in this process, so its own work is not in the controller's figures.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import random
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from kubeapi.server import KubeAPIServer  # noqa: E402
from support.controller import template_hash  # noqa: E402
from support.objects import NS  # noqa: E402
from support.process import KUBERELOAD, Proc, cpu_seconds, memory_mb  # noqa: E402


def proc_cpu(pid: int) -> float:
    return sum(cpu_seconds(pid))


def populate(api: KubeAPIServer, configmaps: int, secrets: int, deployments: int) -> None:
    rng = random.Random(1)
    for i in range(configmaps):
        text = "".join(rng.choice("abcdefghij\n") for _ in range(4096))
        api.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "namespace": NS},
                "data": {"config.yaml": text},
            }
        )
    for i in range(secrets):
        value = base64.b64encode(rng.randbytes(4096)).decode()
        api.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"secret-{i}", "namespace": NS},
                "data": {"key": value},
            }
        )
    for i in range(deployments):
        cms = [f"cm-{(2 * i) % configmaps}", f"cm-{(2 * i + 1) % configmaps}"]
        scs = [f"secret-{(2 * i) % secrets}", f"secret-{(2 * i + 1) % secrets}"]
        api.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": f"app-{i}",
                    "namespace": NS,
                    "annotations": {"reloader.stakater.com/auto": "true"},
                },
                "spec": {
                    "selector": {"matchLabels": {"app": f"app-{i}"}},
                    "template": {
                        "metadata": {"labels": {"app": f"app-{i}"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "busybox",
                                    "envFrom": [
                                        {"configMapRef": {"name": cms[1]}},
                                        {"secretRef": {"name": scs[1]}},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "c", "configMap": {"name": cms[0]}},
                                {"name": "s", "secret": {"secretName": scs[0]}},
                            ],
                        },
                    },
                },
            }
        )


def controller(kubeconfig: Path) -> Proc:
    """The controller process; when each line of its log appeared is noted."""
    return Proc(
        [
            *KUBERELOAD, "controller", "--kubeconfig", str(kubeconfig),
            "--debounce", "0s", "--rate-limit", "0",
        ]
    )  # fmt: skip


def rolled_from(api: KubeAPIServer, name: str, before: str | None) -> bool:
    return template_hash(api, name) != before


def change_latency(api: KubeAPIServer, rounds: int, configmaps: int) -> list[float]:
    """PATCH cm-(2k) over HTTP; wait in the store until app-k's template hash changes."""
    host, port = api.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {
        "Content-Type": "application/merge-patch+json",
        "Authorization": f"Bearer {api.token}",
    }
    out: list[float] = []
    for r in range(rounds):
        k = r % (configmaps // 2)
        name = f"app-{k}"
        before = template_hash(api, name)
        body = json.dumps({"data": {"config.yaml": f"round {r}"}}).encode()
        began = time.perf_counter_ns()
        conn.request("PATCH", f"/api/v1/namespaces/{NS}/configmaps/cm-{2 * k}", body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"PATCH answered {response.status}")
        with api.store.cond:
            if not api.store.cond.wait_for(partial(rolled_from, api, name, before), 30):
                raise RuntimeError(f"{name} was not rolled")
        out.append(time.perf_counter_ns() - began)
    conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the objects, 30 rounds")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    configmaps, secrets, deployments = 10_000 // scale, 10_000 // scale, 5_000 // scale
    rounds = 30 if args.quick else 200

    print(machine_note())
    with tempfile.TemporaryDirectory() as tmp, KubeAPIServer(history=50_000) as api:
        began = time.monotonic()
        populate(api, configmaps, secrets, deployments)
        print(
            f"\ncreated {configmaps} ConfigMaps + {secrets} Secrets (4 KB) + {deployments} "
            f"Deployments in {time.monotonic() - began:.1f} s\n"
        )
        kubeconfig = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        ctl = controller(kubeconfig)
        try:
            # the controller's own word for "all compared": the moment its line was read
            ctl.wait_logged(r"compared \d+ workloads", timeout=600)
            sync_s = ctl.logged_at(r"compared \d+ workloads") - ctl.started
            sync_cpu = proc_cpu(ctl.pid)
            sync_rss = memory_mb(ctl.pid)
            cpu0 = proc_cpu(ctl.pid)
            latencies = change_latency(api, rounds, configmaps)
            cpu_changes = proc_cpu(ctl.pid) - cpu0
            rss_end = memory_mb(ctl.pid)
            peak = memory_mb(ctl.pid, "VmHWM")
        finally:
            ctl.stop()

    print(
        table(
            ["kubereload controller", "measured", "target"],
            [
                ["initial sync (start -> all compared)", f"{sync_s:.1f} s", "-"],
                ["CPU for the initial sync", f"{sync_cpu:.1f} s", "-"],
                ["RSS after sync", f"{sync_rss:.0f} MB", "≤ 150 MB"],
                ["RSS after the changes", f"{rss_end:.0f} MB", "≤ 150 MB"],
                ["peak RSS (VmHWM)", f"{peak:.0f} MB", "≤ 150 MB"],
                [
                    f"change -> patch, median ({rounds} rounds)",
                    fmt_ns(percentile(latencies, 50)),
                    "-",
                ],
                ["change -> patch, p99", fmt_ns(percentile(latencies, 99)), "-"],
                ["CPU per 1 000 changes", f"{cpu_changes / rounds * 1000:.1f} s", "-"],
            ],
        )
    )
    print(
        f"\n{configmaps} ConfigMaps + {secrets} Secrets of 4 KB, {deployments} Deployments; "
        "stakater/Reloader is not run here (see the module docstring)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

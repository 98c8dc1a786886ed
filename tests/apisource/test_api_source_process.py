"""What an API watch leaves in the process: nothing after ``close()``, and nothing of the
Kubernetes client for an application that only watches files. Run in a child process, so
the test server's own threads and sockets are not counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kubeapi.server import KubeAPIServer
from support.objects import configmap

CHILD = """
import json, os, sys, threading
import kubereload

def fds():
    return sorted(os.listdir("/proc/self/fd"))

before_fds, before_threads = fds(), threading.active_count()
configs = [kubereload.watch_configmap("app", key="app.yaml", kubeconfig=sys.argv[1])
           for _ in range(3)]
during = len(fds())
values = [c.get() for c in configs]
for c in configs:
    c.close()
print(json.dumps({"before": before_fds, "after": fds(), "during": during, "values": values,
                  "threads": [before_threads, threading.active_count()]}))
"""


def test_close_leaves_no_threads_or_file_descriptors(api: KubeAPIServer, kubeconfig: Path) -> None:
    api.create(configmap("app", {"app.yaml": "a: 1\n"}))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["values"] == [{"a": 1}] * 3
    assert report["during"] > len(report["before"])  # the watches were really open
    assert report["after"] == report["before"]
    assert report["threads"][1] == report["threads"][0]


def test_watching_files_loads_nothing_of_the_api_source(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("a: 1\n")
    code = (
        "import sys, kubereload; "
        f"kubereload.watch({str(tmp_path / 'app.yaml')!r}).close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lightkube', 'httpx', 'httpx2', 'asyncio', 'ssl') "
        "or m.startswith(('kubereload.kube', 'kubereload.apisource', 'kubereload.sync'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_api_watch_loads_no_async_http_client(api: KubeAPIServer, kubeconfig: Path) -> None:
    """The API source speaks http.client from one thread: an application that watches a
    ConfigMap pays for neither asyncio nor httpx2 (nor lightkube's kubeconfig reader)."""
    api.create(configmap("app", {"app.yaml": "a: 1\n"}))
    code = (
        "import sys, kubereload; "
        f"c = kubereload.watch_configmap('app', key='app.yaml', kubeconfig={str(kubeconfig)!r}); "
        "assert c.get() == {'a': 1}; c.close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lightkube', 'httpx', 'httpx2', 'httpcore', 'anyio', 'asyncio')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"

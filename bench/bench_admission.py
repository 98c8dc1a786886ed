"""``kubereload admission`` latency by object size, beside a bare HTTPS echo of the same request.

    python bench/bench_admission.py [--quick]

A real ``kubereload admission`` process (rules file: one JSON Schema rule on ``app.yaml``) and,
as the floor, a stdlib HTTPS server in its own process that reads the same AdmissionReview and
sends it back unparsed: what any Python webhook pays for TLS, HTTP and the bytes alone. One
keep-alive connection each, as the API server holds; requests one at a time, the servers in
alternating rounds so machine noise falls on all. The ConfigMap is opted in and holds one YAML
key of about 1 KB, 100 KB or 1 MiB (a list of small mappings): the webhook decodes the review,
parses the YAML with the library's bounded parser, validates it against the schema and answers.

- "new content": every request carries different bytes (one name changed), so every one is
  parsed and validated: a real edit.
- "same content": the same object again (a re-apply, a label-only update, an API server retry):
  the verdict of those bytes under the same rules is reused.

Latency is from the first byte sent to the last byte of the answer read. A second table splits
one review's time in this process (median of 10 each): decoding the AdmissionReview, the
library's parse of the key (rapidyaml where it can vouch for PyYAML's values, else PyYAML),
beside PyYAML's C loader alone on the same key (median of 3: the parse before
``config/fastyaml.py``), the JSON Schema validation, and the whole answer.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

from _table import fmt_ns, machine_note, percentile, table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from kubereload.admission.engine import Engine, NoSchemas  # noqa: E402
from kubereload.admission.review import answer  # noqa: E402
from kubereload.admission.rules import parse_rules  # noqa: E402
from kubereload.admission.selfsigned import issue  # noqa: E402
from kubereload.config import parse  # noqa: E402

RULES = """\
rules:
  - name: app
    match: {keys: [app.yaml]}
    schema:
      type: object
      required: [items]
      properties:
        items:
          type: array
          items:
            type: object
            required: [name, port]
            properties:
              name: {type: string}
              port: {type: integer, minimum: 1, maximum: 65535}
              enabled: {type: boolean}
"""
SIZES = (("1 KB", 1024), ("100 KB", 100 * 1024), ("1 MiB", 1024 * 1024 - 4096))
ROUNDS = {"1 KB": 1000, "100 KB": 300, "1 MiB": 20}
TARGETS = {"100 KB": "≤ 5 ms", "1 MiB": "≤ 1 s"}

ECHO_SERVER = """
import ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def connects(port: int) -> bool:
    """Whether something accepts a TCP connection on the port now."""
    socket.create_connection(("127.0.0.1", port), 1).close()
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.lru_cache
def app_yaml(size: int) -> str:
    lines, n, total = ["items:"], 0, 7
    while total < size - 80:
        line = f"  - name: service-{n:06d}\n    port: {1024 + n % 60000}\n    enabled: true"
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "\n".join(lines) + "\n"


def review_body(size: int, variant: int = 0) -> bytes:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "app",
            "namespace": "bench",
            "labels": {"kubereload.io/validate": "true"},
        },
        "data": {"app.yaml": app_yaml(size).replace("service-000000", f"service-{variant:06d}", 1)},
    }
    review: dict[str, Any] = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "namespace": "bench",
            "name": "app",
            "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": obj,
            "dryRun": False,
        },
    }
    return json.dumps(review).encode()


def wait_ready(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


class Client:
    def __init__(self, port: int, ca: Path) -> None:
        context = ssl.create_default_context(cafile=str(ca))
        self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, body: bytes) -> tuple[float, bytes]:
        began = time.perf_counter_ns()
        self.connection.request("POST", "/validate", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        return time.perf_counter_ns() - began, data


def median_ns(run: Any, times: int = 10) -> float:
    took = []
    for _ in range(times):
        began = time.perf_counter_ns()
        run()
        took.append(time.perf_counter_ns() - began)
    return percentile(took, 50)


def breakdown() -> list[list[str]]:
    """Where one review's time goes, in this process: the parts of ``answer``."""
    rules = parse_rules(RULES.encode(), source="rules.yaml", base=Path("."))
    (schema,) = [r.schema for r in rules.rules]
    assert schema is not None
    rows = []
    for label, size in SIZES:
        raw = app_yaml(size).encode()
        value = parse("app.yaml", raw, "yaml")
        bodies = iter([review_body(size, variant=i + 1) for i in range(10)])
        engine = Engine(rules, NoSchemas())
        body = review_body(size)
        parts = [
            median_ns(lambda b=body: json.loads(b)),
            median_ns(lambda r=raw: parse("app.yaml", r, "yaml")),
            median_ns(lambda r=raw: yaml.load(r, Loader=yaml.CSafeLoader), 3),
            median_ns(lambda v=value, r=raw: schema.problems(v, r, file="app.yaml")),
            median_ns(lambda b=bodies, e=engine: answer(next(b), e)),
        ]
        rows.append([label, *(fmt_ns(p) for p in parts)])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-admission-"))
    issued = issue(["127.0.0.1"])
    (work / "ca.crt").write_bytes(issued.ca_cert)
    (work / "tls.crt").write_bytes(issued.cert)
    (work / "tls.key").write_bytes(issued.key)
    (work / "rules.yaml").write_text(RULES)
    port, status, echo_port = free_port(), free_port(), free_port()
    admission = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubereload",
            "admission",
            "--webhook-listen",
            f"127.0.0.1:{port}",
            "--listen",
            f"127.0.0.1:{status}",
            "--tls-cert-file",
            str(work / "tls.crt"),
            "--tls-key-file",
            str(work / "tls.key"),
            "--rules",
            str(work / "rules.yaml"),
            "--log-level",
            "warning",
            "--kubeconfig",
            str(work / "no-such-kubeconfig"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    echo = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ECHO_SERVER,
            str(echo_port),
            str(work / "tls.crt"),
            str(work / "tls.key"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{status}/readyz", timeout=2).status == 200
            ),
            "kubereload admission",
        )
        wait_ready(lambda: connects(echo_port), "echo")
        rows = []
        for label, size in SIZES:
            rounds = max(5, ROUNDS[label] // (10 if args.quick else 1))
            same = review_body(size)
            fresh = [review_body(size, variant=i + 1) for i in range(rounds)]
            clients = {
                "echo": Client(echo_port, work / "ca.crt"),
                "new": Client(port, work / "ca.crt"),
            }
            for client in clients.values():  # warm: handshake, caches, first compile
                for _ in range(3):
                    client.call(same)
            times: dict[str, list[float]] = {"echo": [], "new": [], "same": []}
            for i in range(rounds):
                calls = [("echo", fresh[i]), ("new", fresh[i]), ("same", same)]
                for name, body in calls if i % 2 == 0 else reversed(calls):
                    took, answer = clients["new" if name == "same" else name].call(body)
                    times[name].append(took)
                    if name != "echo":
                        assert json.loads(answer)["response"]["allowed"] is True
            p = {n: (percentile(t, 50), percentile(t, 99)) for n, t in times.items()}
            rows.append(
                [
                    f"{label} ({len(same) // 1024} KiB review)",
                    rounds,
                    fmt_ns(p["echo"][0]),
                    fmt_ns(p["echo"][1]),
                    fmt_ns(p["new"][0]),
                    fmt_ns(p["new"][1]),
                    fmt_ns(p["same"][0]),
                    fmt_ns(p["same"][1]),
                    TARGETS.get(label, "-"),
                ]
            )
    finally:
        for proc in (admission, echo):
            proc.terminate()
            proc.wait(10)
    print(machine_note())
    print()
    print(
        table(
            [
                "ConfigMap (key app.yaml)",
                "requests",
                "HTTPS echo p50",
                "echo p99",
                "new content p50",
                "new p99",
                "same content p50",
                "same p99",
                "target p99",
            ],
            rows,
        )
    )
    print()
    print(
        table(
            [
                "ConfigMap (key app.yaml)",
                "decode review (json)",
                "parse key (config.parse, yaml)",
                "PyYAML CSafeLoader alone",
                "JSON Schema (jsonschema-rs)",
                "whole answer",
            ],
            breakdown(),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

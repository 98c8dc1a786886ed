"""The webhook behind the real kube-apiserver, with the real kubectl.

It is registered from deploy/admission/base/webhook.yaml (its failurePolicy, selectors, timeout
and sideEffects as shipped), pointed at a loopback URL with its caBundle and limited to the
test's namespace; it runs as a ServiceAccount with exactly the RBAC of deploy/admission/.
"""

from __future__ import annotations

import base64
import copy
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.admission import Webhook, wait_until, write_certificate
from support.controlplane import ControlPlane

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "admission"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
SECRET_VALUE = "hunter2-zebra-42"
SCHEMA = '{"type": "object", "required": ["port"], "properties": {"port": {"type": "integer"}}}'


def deploy_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def rbac_rules(name: str, kind: str) -> list[dict[str, Any]]:
    return [rule for d in deploy_docs(name) if d["kind"] == kind for rule in d["rules"]]


def registration(name: str, url: str, ca: bytes | None, namespace: str) -> dict[str, Any]:
    """The shipped ValidatingWebhookConfiguration, sent to ``url`` for ``namespace`` only."""
    (config,) = deploy_docs("base/webhook.yaml")
    config = copy.deepcopy(config)
    config["metadata"]["name"] = name
    (hook,) = config["webhooks"]
    hook["clientConfig"] = {"url": url}
    if ca is not None:
        hook["clientConfig"]["caBundle"] = base64.b64encode(ca).decode()
    hook["namespaceSelector"]["matchExpressions"].append(
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace]}
    )
    return config


def kubectl(plane: ControlPlane, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real kubectl as admin; failures are returned, not raised."""
    return subprocess.run(
        ["kubectl", f"--kubeconfig={plane.kubeconfig}", "--request-timeout=30s", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def manifest(kind: str, name: str, ns: str, data: dict[str, str], *, opted_in: bool = True) -> str:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if opted_in:
        meta["labels"] = {"kubereload.io/validate": "true"}
        meta["annotations"] = {"kubereload.io/schema": "app.yaml=app-schema/schema.json"}
    field = "stringData" if kind == "Secret" else "data"
    return yaml.safe_dump({"apiVersion": "v1", "kind": kind, "metadata": meta, field: data})


def reviews(hook: Webhook) -> float:
    return hook.metric("kubereload_admission_reviews_total")


class Registered:
    def __init__(self, plane: ControlPlane, hook: Webhook, ns: str, name: str) -> None:
        self.plane, self.hook, self.ns, self.name = plane, hook, ns, name


@pytest.fixture(scope="module")
def registered(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registered]:
    plane = control_plane
    ns = "admission-envtest"
    plane.create_namespace(ns)
    plane.kubectl(
        "-n", ns, "create", "configmap", "app-schema", f"--from-literal=schema.json={SCHEMA}"
    )
    identity = plane.identity(
        "kubereload-admission", ns, cluster_rules=rbac_rules("base/rbac.yaml", "ClusterRole")
    )
    tmp = tmp_path_factory.mktemp("admission")
    hook = Webhook(tmp, "--kubeconfig", str(identity.kubeconfig))
    name = "kubereload-admission-envtest"
    plane.ok("POST", WEBHOOKS, registration(name, hook.url, hook.ca.read_bytes(), ns))
    bad = manifest("ConfigMap", "probe", ns, {"app.yaml": "port: x"})
    # In effect once the API server's informer has it: a bad dry run is refused.
    wait_until(
        lambda: kubectl(plane, "apply", "--dry-run=server", "-f", "-", stdin=bad).returncode != 0,
        60,
        "the webhook registration to take effect",
    )
    yield Registered(plane, hook, ns, name)
    hook.stop()
    plane.request("DELETE", f"{WEBHOOKS}/{name}")
    plane.delete_namespace(ns)


def test_good_configmap_is_accepted(registered: Registered) -> None:
    r = registered
    done = kubectl(
        r.plane,
        "apply",
        "-f",
        "-",
        stdin=manifest("ConfigMap", "good", r.ns, {"app.yaml": "port: 80\n"}),
    )
    assert done.returncode == 0, done.stderr
    assert "configmap/good created" in done.stdout
    r.plane.ok("GET", f"/api/v1/namespaces/{r.ns}/configmaps/good")


def test_bad_configmap_is_refused_with_key_line_column_and_no_value(registered: Registered) -> None:
    r = registered
    data = {"app.yaml": "# settings\nport: eighty-one\n"}
    done = kubectl(r.plane, "apply", "-f", "-", stdin=manifest("ConfigMap", "bad", r.ns, data))
    assert done.returncode != 0
    assert 'admission webhook "configs.kubereload.io" denied the request' in done.stderr
    assert (
        f"kubereload: ConfigMap {r.ns}/bad: app.yaml:2:7: port: must be of type integer"
        in done.stderr
    )
    assert "[rule annotations: yaml syntax + JSON Schema from ConfigMap" in done.stderr
    assert "eighty-one" not in done.stderr
    status, _ = r.plane.request("GET", f"/api/v1/namespaces/{r.ns}/configmaps/bad")
    assert status == 404


def test_bad_update_is_refused_and_the_stored_object_stays(registered: Registered) -> None:
    r = registered
    good = manifest("ConfigMap", "updated", r.ns, {"app.yaml": "port: 80\n"})
    assert kubectl(r.plane, "apply", "-f", "-", stdin=good).returncode == 0
    bad = manifest("ConfigMap", "updated", r.ns, {"app.yaml": "port: 80\nport2: [\n"})
    done = kubectl(r.plane, "apply", "-f", "-", stdin=bad)
    assert done.returncode != 0
    assert f"ConfigMap {r.ns}/updated: app.yaml:3:1: " in done.stderr  # an UPDATE, judged
    stored = r.plane.ok("GET", f"/api/v1/namespaces/{r.ns}/configmaps/updated")
    assert stored["data"] == {"app.yaml": "port: 80\n"}


def test_bad_secret_leaves_no_value_in_response_logs_or_metrics(registered: Registered) -> None:
    r = registered
    data = {"app.yaml": f"port: 1\npassword: [{SECRET_VALUE}\n"}
    done = kubectl(r.plane, "apply", "-f", "-", stdin=manifest("Secret", "creds", r.ns, data))
    assert done.returncode != 0
    assert f"kubereload: Secret {r.ns}/creds: app.yaml:3:1: did not find expected" in done.stderr
    wait_until(lambda: f"denied Secret {r.ns}/creds" in r.hook.output(), what="the denial logged")
    _, metrics = r.hook.status("/metrics")
    for text in (done.stdout + done.stderr, r.hook.output(), metrics):
        assert SECRET_VALUE not in text
        assert base64.b64encode(SECRET_VALUE.encode()).decode()[:12] not in text


def test_server_dry_run_is_judged_and_stores_nothing(registered: Registered) -> None:
    r = registered
    bad = manifest("ConfigMap", "dry", r.ns, {"app.yaml": "port: no\n"})
    refused = kubectl(r.plane, "apply", "--dry-run=server", "-f", "-", stdin=bad)
    assert (
        refused.returncode != 0 and "app.yaml:1:7: port: must be of type integer" in refused.stderr
    )
    good = manifest("ConfigMap", "dry", r.ns, {"app.yaml": "port: 8\n"})
    accepted = kubectl(r.plane, "apply", "--dry-run=server", "-f", "-", stdin=good)
    assert accepted.returncode == 0, accepted.stderr
    assert "(server dry run)" in accepted.stdout
    status, _ = r.plane.request("GET", f"/api/v1/namespaces/{r.ns}/configmaps/dry")
    assert status == 404


def test_object_not_opted_in_is_never_sent(registered: Registered) -> None:
    r = registered
    before = reviews(r.hook)
    loose = manifest(
        "ConfigMap", "loose", r.ns, {"app.yaml": "port: [", "x.json": "{"}, opted_in=False
    )
    done = kubectl(r.plane, "apply", "-f", "-", stdin=loose)
    assert done.returncode == 0, done.stderr
    # An opted-in object sent after it is counted; the loose one, before it, was not.
    probe = manifest("ConfigMap", "counted", r.ns, {"app.yaml": "port: 1"})
    assert kubectl(r.plane, "apply", "--dry-run=server", "-f", "-", stdin=probe).returncode == 0
    wait_until(lambda: reviews(r.hook) >= before + 1, what="the opted-in review counted")
    assert reviews(r.hook) == before + 1


def test_webhook_too_slow_refuses_then_recovers(registered: Registered) -> None:
    """A webhook that does not answer within timeoutSeconds (here: stopped with SIGSTOP, its
    socket still accepting) makes the API server give up, and failurePolicy Fail refuse."""
    r = registered
    good = manifest("ConfigMap", "while-slow", r.ns, {"app.yaml": "port: 80\n"})
    os.kill(r.hook.pid, signal.SIGSTOP)
    try:
        done = kubectl(r.plane, "apply", "-f", "-", stdin=good)
    finally:
        os.kill(r.hook.pid, signal.SIGCONT)
    assert done.returncode != 0
    assert 'failed calling webhook "configs.kubereload.io"' in done.stderr
    assert "deadline exceeded" in done.stderr or "timeout" in done.stderr.lower()
    wait_until(
        lambda: kubectl(r.plane, "apply", "-f", "-", stdin=good).returncode == 0,
        60,
        "the resumed webhook to answer again",
    )


def test_webhook_down_refuses_opted_in_objects_as_documented(registered: Registered) -> None:
    """failurePolicy: Fail (deploy/admission/base/webhook.yaml): with no webhook answering, an
    opted-in object is refused, naming the webhook; other objects are untouched."""
    r = registered
    r.hook.stop()
    good = manifest("ConfigMap", "while-down", r.ns, {"app.yaml": "port: 80\n"})
    done = kubectl(r.plane, "apply", "-f", "-", stdin=good)
    assert done.returncode != 0
    assert 'failed calling webhook "configs.kubereload.io"' in done.stderr
    loose = manifest("ConfigMap", "loose-down", r.ns, {"app.yaml": "port: 80\n"}, opted_in=False)
    assert kubectl(r.plane, "apply", "-f", "-", stdin=loose).returncode == 0


def test_expired_certificate_refuses_as_documented(
    control_plane: ControlPlane, control_plane_namespace: str, tmp_path: Path
) -> None:
    """The serving certificate expired: the webhook says so on /readyz, and the API server
    cannot call it, so failurePolicy Fail refuses the opted-in object with an x509 error."""
    plane, ns = control_plane, control_plane_namespace
    ca = write_certificate(tmp_path / "tls", days=0)
    hook = Webhook(tmp_path, wait_for="/healthz")
    name = "kubereload-admission-expired"
    try:
        status, text = hook.status("/readyz")
        assert status == 503 and "the serving certificate has expired" in text
        plane.ok("POST", WEBHOOKS, registration(name, hook.url, ca.read_bytes(), ns))
        good = manifest("ConfigMap", "app", ns, {"app.yaml": "port: 80\n"})

        def refused_for_the_certificate() -> bool:
            done = kubectl(plane, "apply", "--dry-run=server", "-f", "-", stdin=good)
            return "x509: certificate has expired" in done.stderr

        wait_until(refused_for_the_certificate, 60, "the API server to refuse for the certificate")
        done = kubectl(plane, "apply", "-f", "-", stdin=good)
        assert done.returncode != 0
        assert 'failed calling webhook "configs.kubereload.io"' in done.stderr
    finally:
        hook.stop()
        plane.request("DELETE", f"{WEBHOOKS}/{name}")


def test_self_signed_writes_the_ca_bundle_and_serves(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """--self-signed with exactly deploy/admission/self-signed/rbac.yaml's rights: the Secret is
    made, the caBundle written, and the API server then trusts the webhook; a second replica
    shares the same certificate."""
    plane = control_plane
    ns = "admission-self-signed"
    plane.create_namespace(ns)
    name = "kubereload-admission"  # the name the shipped RBAC allows
    identity = plane.identity(
        "kubereload-admission",
        ns,
        rbac_rules("self-signed/rbac.yaml", "Role"),
        cluster_rules=[
            *rbac_rules("base/rbac.yaml", "ClusterRole"),
            *rbac_rules("self-signed/rbac.yaml", "ClusterRole"),
        ],
    )
    first = second = None
    try:
        args = ["--kubeconfig", str(identity.kubeconfig), "--self-signed", "--namespace", ns,
                "--tls-host", "127.0.0.1"]  # fmt: skip
        first = Webhook(tmp_path / "a", *args, "--cert-dir", str(tmp_path / "a-certs"))
        plane.ok("POST", WEBHOOKS, registration(name, first.url, None, ns))
        # The running replica writes caBundle when it next checks; a new one does at start.
        second = Webhook(tmp_path / "b", *args, "--cert-dir", str(tmp_path / "b-certs"))
        config = plane.ok("GET", f"{WEBHOOKS}/{name}")
        bundle = base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"])
        secret = plane.ok("GET", f"/api/v1/namespaces/{ns}/secrets/kubereload-admission-tls")
        assert base64.b64decode(secret["data"]["ca.crt"]) == bundle
        assert (tmp_path / "a-certs" / "tls.crt").read_bytes() == (
            tmp_path / "b-certs" / "tls.crt"
        ).read_bytes()
        config["webhooks"][0]["clientConfig"]["url"] = second.url
        plane.ok("PUT", f"{WEBHOOKS}/{name}", config)
        bad = manifest("ConfigMap", "bad", ns, {"app.yaml": "port: x\n"}, opted_in=True)
        plane.kubectl(
            "-n", ns, "create", "configmap", "app-schema", f"--from-literal=schema.json={SCHEMA}"
        )

        def refused_by_webhook() -> bool:
            done = kubectl(plane, "apply", "-f", "-", stdin=bad)
            return "app.yaml:1:7: port: must be of type integer" in done.stderr

        wait_until(refused_by_webhook, 60, "the API server to trust the self-signed webhook")
    finally:
        for hook in (first, second):
            if hook is not None:
                hook.stop()
        plane.request("DELETE", f"{WEBHOOKS}/{name}")
        plane.delete_namespace(ns)

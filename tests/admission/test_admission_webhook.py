"""``kubereload admission`` as a process, spoken to over real HTTPS as the API server would."""

from __future__ import annotations

import base64
import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.admission import Webhook, review, wait_until, write_certificate

RULES = """\
rules:
  - name: app-config
    match: {namespaces: [demo], keys: [app.yaml]}
    schema:
      type: object
      properties: {port: {type: integer}}
"""
SECRET_VALUE = "hunter2-zebra"


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[Webhook]:
    (tmp_path / "rules.yaml").write_text(RULES)
    hook = Webhook(tmp_path, "--rules", str(tmp_path / "rules.yaml"))
    yield hook
    hook.stop()


def configmap(data: dict[str, str], ns: str = "demo") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": ns},
        "data": data,
    }


def test_good_config_is_allowed_and_says_what_was_checked(webhook: Webhook) -> None:
    body = review(configmap({"app.yaml": "port: 80\n"}))
    status, answer = webhook.post(json.dumps(body).encode())
    assert status == 200
    response = answer["response"]
    assert response["uid"] == body["request"]["uid"] and response["allowed"] is True
    assert response["auditAnnotations"]["checked"] == (
        "app.yaml: yaml syntax + JSON Schema inline in rule app-config [rule app-config]"
    )
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    health, text = webhook.status("/healthz")
    assert health == 200 and "[+] webhook: ok" in text


def test_bad_config_is_denied_with_key_line_column_and_rule(webhook: Webhook) -> None:
    status, answer = webhook.post(
        json.dumps(review(configmap({"app.yaml": "a: 1\nport: http\n"}))).encode()
    )
    assert status == 200
    response = answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert response["status"]["message"] == (
        "kubereload: ConfigMap demo/app: app.yaml:2:7: port: must be of type integer "
        "(schema #/properties/port/type) [rule app-config: yaml syntax + JSON Schema inline "
        "in rule app-config]"
    )
    assert (
        webhook.metric("kubereload_admission_reviews_total", namespace="demo", result="denied") == 1
    )
    assert (
        webhook.metric(
            "kubereload_admission_checks_total",
            namespace="demo",
            rule="app-config",
            result="failed",
        )
        == 1
    )


def test_bad_secret_leaves_no_value_in_answer_logs_or_metrics(webhook: Webhook) -> None:
    value = f"user: me\npassword: [{SECRET_VALUE}\n".encode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "creds",
            "namespace": "demo",
            "labels": {"kubereload.io/validate": "true"},
        },
        "data": {"creds.yaml": base64.b64encode(value).decode()},
    }
    status, answer = webhook.post(json.dumps(review(secret)).encode())
    assert status == 200 and answer["response"]["allowed"] is False
    message = answer["response"]["status"]["message"]
    assert message.startswith(
        "kubereload: Secret demo/creds: creds.yaml:3:1: did not find expected"
    )
    wait_until(lambda: "denied Secret demo/creds" in webhook.output(), what="the denial logged")
    _, metrics = webhook.status("/metrics")
    for text in (json.dumps(answer), webhook.output(), metrics):
        assert SECRET_VALUE not in text
        assert "password" not in text


def test_requests_it_does_not_judge_and_malformed_ones(webhook: Webhook) -> None:
    delete = review(configmap({"app.yaml": "port: x"}), operation="DELETE")
    status, answer = webhook.post(json.dumps(delete).encode())
    assert status == 200 and answer["response"]["allowed"] is True
    status, answer = webhook.post(b"not json")
    assert status == 400 and answer == {"error": "the body is not JSON"}
    old = {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "request": {"uid": "1"},
    }
    status, answer = webhook.post(json.dumps(old).encode())
    assert status == 400 and "only admission.k8s.io/v1 is served" in answer["error"]
    assert webhook.metric("kubereload_admission_reviews_total", result="errored") == 2


def test_oversized_request_is_refused_before_it_is_read(tmp_path: Path) -> None:
    hook = Webhook(tmp_path, "--max-request-bytes", "1024")  # the smallest it accepts
    try:
        status, answer = hook.post(b"x" * 5000)
        assert status == 413 and answer == {"error": "request too large"}
    finally:
        hook.stop()


def test_dry_run_request_gets_the_same_verdict(webhook: Webhook) -> None:
    bad = configmap({"app.yaml": "port: http\n"})
    _, real = webhook.post(json.dumps(review(bad)).encode())
    _, dry = webhook.post(json.dumps(review(bad, dry_run=True)).encode())
    assert dry["response"]["allowed"] is False
    assert dry["response"]["status"] == real["response"]["status"]


def test_certificate_rotates_without_a_restart(webhook: Webhook, tmp_path: Path) -> None:
    old_ca = webhook.ca
    body = json.dumps(review(configmap({"app.yaml": "port: 1"}))).encode()
    assert webhook.post(body, old_ca)[0] == 200
    fresh = tmp_path / "fresh"
    new_ca = write_certificate(fresh)
    for name in ("tls.key", "tls.crt"):  # each file replaced atomically, as a renewal does
        os.replace(fresh / name, webhook.tls / name)

    def trusts_new() -> bool:
        try:
            return webhook.post(body, new_ca)[0] == 200
        except ssl.SSLError:
            return False

    wait_until(trusts_new, 30, "the webhook to serve the new certificate")
    with pytest.raises(ssl.SSLError):
        webhook.post(body, old_ca)
    assert webhook.returncode is None  # the same process throughout
    assert webhook.metric("kubereload_admission_certificate_loads") == 2


def test_rules_file_is_followed_live(webhook: Webhook, tmp_path: Path) -> None:
    body = json.dumps(review(configmap({"app.yaml": "port: http"}))).encode()
    assert webhook.post(body)[1]["response"]["allowed"] is False
    rules = tmp_path / "rules.yaml"
    replacement = tmp_path / "rules.new"
    replacement.write_text(RULES.replace("type: integer", "type: string"))
    os.replace(replacement, rules)
    wait_until(lambda: webhook.post(body)[1]["response"]["allowed"], 30, "the new rules")


def test_a_broken_rules_edit_keeps_the_last_good_rules(webhook: Webhook, tmp_path: Path) -> None:
    body = json.dumps(review(configmap({"app.yaml": "port: http"}))).encode()
    replacement = tmp_path / "rules.new"
    replacement.write_text("rules: [{name: app-config, format: yml}]\n")
    os.replace(replacement, tmp_path / "rules.yaml")
    wait_until(lambda: webhook.status("/readyz")[0] == 503, 30, "/readyz to report the rules")
    assert "rules update rejected" in webhook.status("/readyz")[1]
    assert "unknown format 'yml'" in webhook.status("/readyz")[1]
    assert webhook.post(body)[1]["response"]["allowed"] is False  # the old rules still judge

"""One AdmissionReview (admission.k8s.io/v1) in, one answer out: no I/O, no state.

The answer to a request we cannot judge (malformed, or a schema that cannot be fetched now) is
not a verdict: the server answers it with an HTTP error, so the API server applies the
webhook's ``failurePolicy``. Requests that are not a CREATE or UPDATE of a ConfigMap or Secret
are allowed untouched (the webhook configuration should not send them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubereload.admission.engine import Engine, SchemaUnavailable, Verdict

API_VERSION = "admission.k8s.io/v1"
JUDGED_OPERATIONS = ("CREATE", "UPDATE")
JUDGED_RESOURCES = {("", "configmaps"), ("", "secrets")}


class BadReview(ValueError):
    """Not an AdmissionReview v1 request we can read (answered 400)."""


@dataclass(frozen=True)
class Outcome:
    """What happened, for metrics and logs: never the object's values."""

    result: str  # allowed, denied, errored
    namespace: str = ""
    kind: str = ""
    name: str = ""
    dry_run: bool = False
    verdict: Verdict | None = None
    reason: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    outcome: Outcome = field(default_factory=lambda: Outcome("errored"))


def answer(raw: bytes, engine: Engine) -> Answer:
    """The HTTP status and body for the request body ``raw``."""
    try:
        request = _request(raw)
    except BadReview as exc:
        return Answer(400, _error_body(str(exc)), Outcome("errored", reason=str(exc)))
    uid = str(request["uid"])
    namespace = str(request.get("namespace") or "")
    dry_run = bool(request.get("dryRun"))
    resource = request.get("resource") or {}
    operation = str(request.get("operation") or "")
    obj = request.get("object")
    judged = (str(resource.get("group", "")), str(resource.get("resource", ""))) in JUDGED_RESOURCES
    if operation not in JUDGED_OPERATIONS or not judged or not isinstance(obj, dict):
        return Answer(200, _review(uid, True), Outcome("allowed", namespace, dry_run=dry_run))
    try:
        verdict = engine.judge(obj, namespace or None)
    except SchemaUnavailable as exc:
        reason = f"a schema could not be fetched: {exc}"
        return Answer(
            500, _error_body(reason), Outcome("errored", namespace, dry_run=dry_run, reason=reason)
        )
    outcome = Outcome(
        "allowed" if verdict.allowed else "denied",
        verdict.namespace,
        verdict.kind,
        verdict.name,
        dry_run,
        verdict,
    )
    if verdict.allowed:
        return Answer(200, _review(uid, True, audit=_audit(verdict)), outcome)
    return Answer(200, _review(uid, False, message=f"kubereload: {verdict.message()}"), outcome)


def _request(raw: bytes) -> dict[str, Any]:
    try:
        review = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadReview("the body is not JSON") from None
    if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
        raise BadReview("the body is not an AdmissionReview")
    if review.get("apiVersion") != API_VERSION:
        raise BadReview(f"only {API_VERSION} is served (set admissionReviewVersions: [v1])")
    request = review.get("request")
    if not isinstance(request, dict) or not request.get("uid"):
        raise BadReview("the AdmissionReview has no request.uid")
    return request


def _review(
    uid: str, allowed: bool, *, message: str = "", audit: dict[str, str] | None = None
) -> bytes:
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message:
        response["status"] = {"code": 422, "reason": "Invalid", "message": message}
    if audit:
        response["auditAnnotations"] = audit
    return json.dumps(
        {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
    ).encode()


def _audit(verdict: Verdict) -> dict[str, str]:
    """What was checked, for the audit log (``checked``: key, rule and what the rule checks)."""
    if not verdict.checks:
        return {}
    text = "; ".join(f"{c.key}: {c.checked} [rule {c.rule}]" for c in verdict.checks)
    return {"checked": text[:1024]}


def _error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()

"""deploy/admission builds with the real kubectl kustomize, and says what docs/admission.md says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "admission"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def build(path: Path) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(done.stdout) if d}


@pytest.mark.parametrize("variant", ["", "self-signed"])
def test_both_variants_build_with_replicas_pdb_and_the_documented_webhook(variant: str) -> None:
    objects = build(DEPLOY / variant)
    name = "kubereload-admission"
    deployment = objects[f"Deployment/{name}"]
    assert deployment["spec"]["replicas"] == 2
    assert objects[f"PodDisruptionBudget/{name}"]["spec"]["minAvailable"] == 1
    (hook,) = objects[f"ValidatingWebhookConfiguration/{name}"]["webhooks"]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["timeoutSeconds"] == 5
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["objectSelector"] == {"matchLabels": {"kubereload.io/validate": "true"}}
    excluded = hook["namespaceSelector"]["matchExpressions"][0]
    assert excluded["operator"] == "NotIn" and {"kube-system", "kubereload"} <= set(
        excluded["values"]
    )
    (rule,) = hook["rules"]
    assert rule["operations"] == ["CREATE", "UPDATE"]
    assert rule["resources"] == ["configmaps", "secrets"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "admission"
    # Least privilege: ConfigMaps read, nothing else cluster-wide but the self-signed extras.
    assert objects[f"ClusterRole/{name}"]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    ]
    if variant == "self-signed":
        assert "--self-signed" in args
        assert "Certificate/kubereload-admission" not in objects
        role = objects["Role/kubereload-admission-self-signed"]["rules"]
        assert {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [f"{name}-tls"],
                "verbs": ["get", "update"]} in role  # fmt: skip
    else:
        assert objects[f"Certificate/{name}"]["spec"]["secretName"] == f"{name}-tls"
        annotations = objects[f"ValidatingWebhookConfiguration/{name}"]["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == f"kubereload/{name}"

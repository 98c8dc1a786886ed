"""``kubereload check`` and ``kubereload schema`` as a CI job runs them: real processes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KUBERELOAD = [sys.executable, "-m", "kubereload"]

MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-schema
  namespace: demo
data:
  schema.json: |
    {"type": "object", "properties": {"port": {"type": "integer"}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: demo
  labels: {kubereload.io/validate: "true"}
  annotations:
    kubereload.io/schema: "app.yaml=app-schema/schema.json"
data:
  app.yaml: |
    name: x
    port: eighty
  other.json: '{"a": 1}'
---
kind: Secret
apiVersion: v1
metadata: {name: creds, namespace: demo, labels: {kubereload.io/validate: "true"}}
stringData:
  creds.yaml: |
    user: a
    password: [hunter2
"""


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KUBERELOAD, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_check_points_into_the_manifest_and_fails(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(MANIFESTS)
    done = run("check", "-f", str(tmp_path))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    manifest = tmp_path / "all.yaml"
    # "port: eighty" is line 25 of the manifest; the value starts at column 11.
    assert lines[0].startswith(
        f"{manifest}:25:11: ConfigMap demo/app key app.yaml (line 2, column 7)"
    )
    assert "must be of type integer" in lines[0]
    assert "[rule annotations: yaml syntax + JSON Schema from ConfigMap demo/app-schema" in lines[0]
    assert f"{manifest}:26:15: ok: ConfigMap demo/app key other.json: json syntax" in lines[1]
    # The YAML error is past the value's last line: shown just after that line's end.
    assert lines[2].startswith(f"{manifest}:34:23: Secret demo/creds key creds.yaml (line 3")
    assert (
        "Secret demo/creds key creds.yaml" in lines[2] and "[rule syntax: yaml syntax]" in lines[2]
    )
    assert "hunter2" not in done.stdout + done.stderr
    assert "2 of 3 ConfigMap/Secret object(s) checked, 2 problem(s)" in done.stderr


def test_check_reads_kustomize_output_on_stdin_as_json() -> None:
    done = run("check", "-f", "-", "-o", "json", "-q", stdin=MANIFESTS)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["objects"] == 3
    assert [(f["file"], f["line"], f["key"], f["rule"]) for f in report["findings"]] == [
        ("<stdin>", 25, "app.yaml", "annotations"),
        ("<stdin>", 34, "creds.yaml", "syntax"),
    ]


def test_check_passes_a_good_tree_with_a_rules_file(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: ports\n    match: {keys: [app.yaml]}\n"
        "    schema: {type: object, required: [port]}\n"
    )
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "cm.yml").write_text(
        "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\ndata:\n  app.yaml: 'port: 1'\n"
    )
    done = run("check", "-f", str(manifests), "--rules", str(tmp_path / "rules.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: ConfigMap default/a key app.yaml: yaml syntax + JSON Schema inline" in done.stdout
    assert "lacks the label kubereload.io/validate=true" in done.stderr  # webhook would not see it


def test_check_refuses_a_bad_rules_file_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules: [{name: a, format: yml}]\n")
    done = run("check", "-f", "-", "--rules", str(tmp_path / "rules.yaml"), stdin="")
    assert done.returncode == 2
    assert "unknown format 'yml'" in done.stderr


def test_schema_prints_the_models_json_schema(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(
        "from pydantic import BaseModel\nclass Settings(BaseModel):\n    port: int\n"
    )
    done = run("schema", "myapp:Settings", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["properties"]["port"]["type"] == "integer"
    assert schema["required"] == ["port"]
    missing = run("schema", "myapp:Nope", cwd=tmp_path)
    assert missing.returncode == 2 and "has no Nope" in missing.stderr


def test_check_reads_real_kustomize_output(tmp_path: Path) -> None:
    """A configMapGenerator, built by kubectl's own kustomize and piped in, as CI would."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    (tmp_path / "app.yaml").write_text("name: web\nport: [80\n")
    (tmp_path / "kustomization.yaml").write_text(
        "configMapGenerator:\n"
        "  - name: web\n"
        "    files: [app.yaml]\n"
        "    options:\n"
        "      labels: {kubereload.io/validate: 'true'}\n"
    )
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    )
    done = run("check", "-f", "-", "-q", stdin=built.stdout)
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    assert line.startswith("<stdin>:")
    assert "ConfigMap default/web-" in line and "key app.yaml (line 3, column 1)" in line
    # Past the block's last line: shown at the end of that line in the built manifest.
    _, row, column = line.split(":")[:3]
    text = built.stdout.splitlines()[int(row) - 1]
    assert text.strip() == "port: [80" and int(column) == len(text) + 1


@pytest.mark.parametrize(
    "value",
    ["!Hunter2-Secret-Tag x", "*Hunter2-Secret-Alias", "[Hunter2-Secret-Flow"],
)
def test_a_manifest_that_is_not_yaml_is_reported_without_its_text(
    tmp_path: Path, value: str
) -> None:
    """PyYAML's own messages quote tags and values; a Secret's stringData must not reach CI logs."""
    manifest = tmp_path / "secret.yaml"
    manifest.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  pw: {value}\n"
    )
    result = run("check", "-f", str(manifest))
    assert result.returncode == 2
    assert re.search(rf"{re.escape(str(manifest))}:[56]:\d+: not valid YAML \(", result.stderr)
    assert "Hunter2" not in result.stdout + result.stderr

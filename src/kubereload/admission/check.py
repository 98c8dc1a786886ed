"""``check``'s work, offline: judge every ConfigMap/Secret in some manifests, as admission would.

The engine is the webhook's; only the ends differ: objects come from files, a schema referenced
by an annotation is looked up among the same manifests, and each problem is placed at
``file:line:column`` in the manifest.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubereload.admission.engine import Check, Engine, Verdict
from kubereload.admission.manifests import (
    Manifest,
    ManifestError,
    ManifestSchemas,
    expand,
    read_manifests,
)
from kubereload.admission.rules import OPT_IN_LABEL, Rules
from kubereload.config import ConfigError


@dataclass(frozen=True)
class Finding:
    """One check of one key of one object: passed, or a problem placed in the manifest."""

    file: str
    line: int
    column: int
    kind: str
    namespace: str
    name: str
    key: str
    rule: str
    checked: str
    ok: bool
    message: str = ""
    key_line: int | None = None
    key_column: int | None = None

    def text(self) -> str:
        obj = f"{self.kind} {self.namespace}/{self.name} key {self.key}"
        if self.ok:
            where = f"{self.file}:{self.line}:{self.column}"
            return f"{where}: ok: {obj}: {self.checked} [rule {self.rule}]"
        inner = ""
        if self.key_line is not None:
            inner = f" (line {self.key_line}" + (
                f", column {self.key_column})" if self.key_column is not None else ")"
            )
        return (
            f"{self.file}:{self.line}:{self.column}: {obj}{inner}: {self.message} "
            f"[rule {self.rule}: {self.checked}]"
        )

    def json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "key": self.key,
            "keyLine": self.key_line,
            "keyColumn": self.key_column,
            "rule": self.rule,
            "checked": self.checked,
            "ok": self.ok,
            "message": self.message,
        }


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]
    objects: int

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


def load(paths: Sequence[str]) -> list[Manifest]:
    """Every ConfigMap/Secret in ``paths`` (files, directories, ``-`` for stdin)."""
    manifests: list[Manifest] = []
    for path in expand(paths):
        if path is None:
            raw, name = sys.stdin.buffer.read(), "<stdin>"
        else:
            try:
                raw, name = path.read_bytes(), str(path)
            except OSError as exc:
                raise ManifestError(f"{path}: cannot read ({exc.strerror})") from None
        manifests.extend(read_manifests(raw, name))
    return manifests


def check(manifests: Sequence[Manifest], rules: Rules, namespace: str = "default") -> Report:
    engine = Engine(rules, ManifestSchemas(manifests, namespace))
    findings: list[Finding] = []
    warnings: list[str] = []
    for manifest in manifests:
        verdict = engine.judge(manifest.obj, _namespace(manifest, namespace))
        if not verdict.judged:
            continue
        labels = (manifest.obj.get("metadata") or {}).get("labels") or {}
        if labels.get(OPT_IN_LABEL) != "true":
            warnings.append(
                f"{manifest.file}:{manifest.node.start_mark.line + 1}: {verdict.kind} "
                f"{verdict.namespace}/{verdict.name} is checked here but lacks the label "
                f"{OPT_IN_LABEL}=true: the webhook as deployed will not be sent it"
            )
        findings.extend(_findings(manifest, verdict))
    return Report(tuple(findings), tuple(warnings), len(manifests))


def _namespace(manifest: Manifest, default: str) -> str:
    return str((manifest.obj.get("metadata") or {}).get("namespace") or default)


def _findings(manifest: Manifest, verdict: Verdict) -> list[Finding]:
    found = []
    for check in verdict.checks:
        section = _section(manifest, check.key)
        for problem in check.problems or (None,):  # a passed check: one finding, at its key
            found.append(_finding(manifest, verdict, check, section, problem))
    return found


def _finding(
    manifest: Manifest, verdict: Verdict, check: Check, section: str, problem: ConfigError | None
) -> Finding:
    key_line = problem.line if problem is not None else None
    key_column = problem.column if problem is not None else None
    line, column = manifest.where(section, check.key, key_line, key_column)
    return Finding(
        manifest.file,
        line,
        column,
        verdict.kind,
        verdict.namespace,
        verdict.name,
        check.key,
        check.rule,
        check.checked,
        ok=problem is None,
        message=problem.message if problem is not None else "",
        key_line=key_line,
        key_column=key_column,
    )


def _section(manifest: Manifest, key: str) -> str:
    for section in ("stringData", "data", "binaryData"):
        if key in (manifest.obj.get(section) or {}):
            return section
    return "data"

"""ConfigMaps and Secrets from manifests on disk, with positions back into the manifest.

Reads multi-document YAML (as ``kustomize build`` and ``helm template`` print it, and ``List``
objects as ``kubectl get -o yaml`` does). A problem found at line L of a key's value is mapped to
the manifest: exactly for a literal block (``key: |``), else to where the value starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubereload.admission.rules import SchemaRef
from kubereload.config.formats import decode_utf8, yaml_message

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""A bound on one manifest file (a ``kustomize build`` of a large app is a few MiB)."""
SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest that is not readable YAML: says file, line and column."""


@dataclass(frozen=True)
class Manifest:
    """One object of one document of one file, with its composed node for positions."""

    file: str
    obj: Mapping[str, Any]
    node: yaml.Node
    lines: Sequence[str]

    def where(
        self, section: str, key: str, line: int | None, column: int | None
    ) -> tuple[int, int]:
        """The manifest's (line, column) for a problem at (line, column) inside ``key``'s value
        under ``section`` (``data``, ``stringData``, ``binaryData``); the object's start if the
        key is not found."""
        value = _child(_child(self.node, section), key)
        if value is None:
            return self.node.start_mark.line + 1, self.node.start_mark.column + 1
        start = (value.start_mark.line + 1, value.start_mark.column + 1)
        if not isinstance(value, yaml.ScalarNode) or value.style != "|" or line is None:
            return start
        first = value.start_mark.line + 1  # 0-based index of the block's first content line
        end = value.end_mark
        last = end.line - 1 if end.column == 0 else end.line  # its last content line
        last = min(last, len(self.lines) - 1)
        if last < first:
            return start
        target = first + line - 1
        if target > last:  # past the value's end (an unclosed bracket): just after its last line
            return last + 1, len(self.lines[last]) + 1
        return target + 1, _indent(self.lines, first, last) + (column or 1)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _indent(lines: Sequence[str], first: int, last: int) -> int:
    for line in lines[first : last + 1]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 0


def expand(paths: Sequence[str]) -> list[Path | None]:
    """Files to read: each file given, YAML/JSON files under each directory (sorted), and
    ``None`` for ``-`` (standard input)."""
    found: list[Path | None] = []
    for text in paths:
        if text == "-":
            found.append(None)
            continue
        path = Path(text)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        else:
            found.append(path)
    return found


def read_manifests(raw: bytes, file: str) -> Iterator[Manifest]:
    """Every ConfigMap and Secret in ``raw`` (other kinds are skipped)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{file}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        text = decode_utf8(raw)
    except Exception as exc:
        raise ManifestError(f"{file}: {exc}") from None
    lines = text.splitlines()
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
        docs = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        # in our words: PyYAML's own text can quote a tag or a value (a Secret's stringData)
        raise ManifestError(f"{file}{at}: not valid YAML ({yaml_message(exc)[1]})") from None
    except yaml.YAMLError:
        raise ManifestError(f"{file}: not valid YAML") from None
    for node, doc in zip(
        (n for n in nodes if n is not None), (d for d in docs if d is not None), strict=False
    ):
        if not isinstance(doc, Mapping):
            continue
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            items = _child(node, "items")
            for i, item in enumerate(doc["items"]):
                child = items.value[i] if isinstance(items, yaml.SequenceNode) else node
                if isinstance(item, Mapping) and item.get("kind") in ("ConfigMap", "Secret"):
                    yield Manifest(file, item, child, lines)
        elif doc.get("kind") in ("ConfigMap", "Secret"):
            yield Manifest(file, doc, node, lines)


class ManifestSchemas:
    """Schemas referenced by annotations, looked up among the ConfigMaps being checked."""

    def __init__(self, manifests: Sequence[Manifest], default_namespace: str) -> None:
        self._configmaps: dict[tuple[str, str], Mapping[str, Any]] = {}
        for m in manifests:
            if m.obj.get("kind") == "ConfigMap":
                meta = m.obj.get("metadata") or {}
                ns = str(meta.get("namespace") or default_namespace)
                self._configmaps[(ns, str(meta.get("name")))] = m.obj

    def fetch(self, ref: SchemaRef) -> bytes | None:
        obj = self._configmaps.get((ref.namespace, ref.name))
        if obj is None:
            return None
        value = (obj.get("data") or {}).get(ref.key)
        return None if value is None else str(value).encode()

"""What ``sync`` reads: named objects, or label-selected ones per kind and namespace."""

from __future__ import annotations

from dataclasses import dataclass

from kubereload.kube.data import DataKind
from kubereload.kube.resources import Resource


@dataclass(frozen=True)
class Selection:
    """One informer's worth: a kind in a namespace (None: all), by name or by labels.

    A named object is watched with the field selector ``metadata.name=NAME``: RBAC then allows
    it with a Role limited by ``resourceNames``.
    """

    kind: DataKind
    namespace: str | None
    name: str | None = None
    label_selector: str | None = None

    @property
    def resource(self) -> Resource:
        return self.kind.resource

    @property
    def field_selector(self) -> str | None:
        return f"metadata.name={self.name}" if self.name else None

    def describe(self) -> str:
        where = self.namespace or "all namespaces"
        if self.name:
            return f"{self.kind.label} {where}/{self.name}"
        return f"{self.kind.label}s in {where} with labels {self.label_selector}"


def parse_ref(value: str, default_namespace: str) -> tuple[str, str]:
    """``[NS/]NAME`` -> (namespace, name)."""
    namespace, sep, name = value.rpartition("/")
    if not name or (sep and not namespace) or "/" in namespace:
        raise ValueError(f"{value!r}: expected NAME or NAMESPACE/NAME")
    return (namespace or default_namespace, name)


def plan(
    *,
    configmaps: list[str],
    secrets: list[str],
    selector: str | None,
    kind: str,
    namespaces: list[str],
    all_namespaces: bool,
    default_namespace: str,
) -> list[Selection]:
    """The selections for the command line; raises ValueError on a contradictory one."""
    named = [Selection(DataKind.CONFIGMAP, *parse_ref(v, default_namespace)) for v in configmaps]
    named += [Selection(DataKind.SECRET, *parse_ref(v, default_namespace)) for v in secrets]
    if named and selector:
        raise ValueError("use --configmap/--secret or --selector, not both")
    if named:
        if namespaces or all_namespaces:
            raise ValueError("--namespace/--all-namespaces go with --selector; use NS/NAME")
        return list(dict.fromkeys(named))
    if not selector:
        raise ValueError("nothing to sync: give --configmap, --secret or --selector")
    kinds = list(DataKind) if kind == "both" else [DataKind.parse(kind)]
    if all_namespaces and namespaces:
        raise ValueError("--namespace and --all-namespaces exclude each other")
    where: list[str | None] = [None] if all_namespaces else list(namespaces or [default_namespace])
    return [Selection(k, ns, label_selector=selector) for k in kinds for ns in dict.fromkeys(where)]

"""Which ConfigMaps and Secrets a pod template uses, and through what.

Covers every way a pod can read one: volumes (``configMap``, ``secret``, ``projected`` sources),
``env[].valueFrom`` (``configMapKeyRef`` / ``secretKeyRef``) and ``envFrom``, in containers and
init containers. A ``subPath`` mount of such a volume is a bind mount of one file that the kubelet
never updates, so it is reported for a warning.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubereload.kube.data import DataKind

_KEY_REFS = (("configMapKeyRef", DataKind.CONFIGMAP), ("secretKeyRef", DataKind.SECRET))
_FROM_REFS = (("configMapRef", DataKind.CONFIGMAP), ("secretRef", DataKind.SECRET))


@dataclass(frozen=True, slots=True)
class Reference:
    """One use of a ConfigMap or Secret by a pod template.

    ``via`` says how, for people (``volume "conf"``, ``env FOO of container "app"``);
    ``key`` is the one key an env var reads, if any; ``sub_path`` marks a volume mounted by
    ``subPath`` in at least one container (it will not see updates).
    """

    kind: DataKind
    name: str
    via: str
    key: str | None = None
    sub_path: bool = False


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    """The mappings in a list field, skipping anything malformed."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _name(ref: Any) -> str | None:
    if isinstance(ref, Mapping):
        name = ref.get("name")
        if isinstance(name, str) and name:
            return name
    return None


def _volume_refs(volume: Mapping[str, Any]) -> Iterator[tuple[DataKind, str]]:
    cm = _name(volume.get("configMap"))
    if cm:
        yield DataKind.CONFIGMAP, cm
    secret = volume.get("secret")
    if isinstance(secret, Mapping):
        name = secret.get("secretName")
        if isinstance(name, str) and name:
            yield DataKind.SECRET, name
    projected = volume.get("projected")
    if isinstance(projected, Mapping):
        for source in _dicts(projected.get("sources")):
            cm = _name(source.get("configMap"))
            if cm:
                yield DataKind.CONFIGMAP, cm
            secret_name = _name(source.get("secret"))
            if secret_name:
                yield DataKind.SECRET, secret_name


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field, label in (("initContainers", "init container"), ("containers", "container")):
        for container in _dicts(pod_spec.get(field)):
            yield f'{label} "{container.get("name", "?")}"', container


def _sub_path_volumes(pod_spec: Mapping[str, Any]) -> set[str]:
    """Names of volumes that some container mounts with ``subPath`` or ``subPathExpr``."""
    names: set[str] = set()
    for _, container in _containers(pod_spec):
        for mount in _dicts(container.get("volumeMounts")):
            if mount.get("subPath") or mount.get("subPathExpr"):
                name = mount.get("name")
                if isinstance(name, str):
                    names.add(name)
    return names


def extract_references(pod_spec: Mapping[str, Any]) -> list[Reference]:
    """Every ConfigMap/Secret reference in a pod spec (``spec.template.spec``), in spec order."""
    refs: list[Reference] = []
    sub_paths = _sub_path_volumes(pod_spec)
    for volume in _dicts(pod_spec.get("volumes")):
        vol_name = str(volume.get("name", "?"))
        for kind, obj_name in _volume_refs(volume):
            via = sys.intern(f'volume "{vol_name}"')  # alike in many workloads: one copy
            refs.append(Reference(kind, obj_name, via, None, vol_name in sub_paths))
    for where, container in _containers(pod_spec):
        for env in _dicts(container.get("env")):
            value_from = env.get("valueFrom")
            if not isinstance(value_from, Mapping):
                continue
            for field, kind in _KEY_REFS:
                ref = value_from.get(field)
                ref_name = _name(ref)
                if ref_name and isinstance(ref, Mapping):
                    key = ref.get("key")
                    via = sys.intern(f"env {env.get('name', '?')} of {where}")
                    refs.append(
                        Reference(kind, ref_name, via, key if isinstance(key, str) else None)
                    )
        for source in _dicts(container.get("envFrom")):
            for field, kind in _FROM_REFS:
                from_name = _name(source.get(field))
                if from_name:
                    refs.append(Reference(kind, from_name, sys.intern(f"envFrom of {where}")))
    return refs


def referenced(refs: list[Reference], kind: DataKind) -> set[str]:
    """Names of the objects of one kind that ``refs`` use."""
    return {ref.name for ref in refs if ref.kind == kind}

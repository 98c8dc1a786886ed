"""The part of OpenAPI v3 kubectl reads: which PATCH operations accept `fieldValidation`.

kubectl validates manifests on the server when the server's OpenAPI says it can, and otherwise
needs the full schemas; these minimal documents let the real kubectl run with its default
`--validate=strict`. Schemas are not served, so kubectl computes patches from its built-in types.
"""

from __future__ import annotations

from typing import Any

from kubeapi.resources import RESOURCES

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root() -> dict[str, Any]:
    paths = {}
    for res in RESOURCES:
        path = _gv_path(res.group, res.version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash=kubeapi"}
    return {"paths": paths}


def group_version(path: str) -> dict[str, Any] | None:
    served = [r for r in RESOURCES if _gv_path(r.group, r.version) == path]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for res in served:
        scope = "/namespaces/{namespace}" if res.namespaced else ""
        item = f"/{_gv_path(res.group, res.version)}{scope}/{res.plural}/{{name}}"
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        paths[item] = {
            "patch": {
                "operationId": f"patch{res.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in _QUERY_PARAMS
                ],
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
    }

"""The three PATCH formats: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic merge.

Strategic merge knows the merge keys of the Kubernetes types this server serves by field name
(`containers` by `name`, container `ports` by `containerPort`, ...); other lists are replaced,
as the real server does for lists without a patch strategy.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeapi.status import ApiError

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
PRIMITIVE_MERGE = {"finalizers"}

_DELETE = object()


def _invalid(message: str) -> ApiError:
    return ApiError(422, message, reason="Invalid")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _invalid(f"doc is missing path: {path!r}")
    return node


def _index(node: list[Any], part: str, path: str, *, insert: bool) -> int:
    if insert and part == "-":
        return len(node)
    if not part.isdigit():
        raise _invalid(f"invalid array index {part!r} in {path!r}")
    index = int(part)
    if index > len(node) or (not insert and index == len(node)):
        raise _invalid(f"index out of range in {path!r}")
    return index


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    node = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(node, dict):
        if last not in node:
            raise _invalid(f"doc is missing key: {path!r}")
        return node[last]
    if isinstance(node, list):
        return node[_index(node, last, path, insert=False)]
    raise _invalid(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _invalid("cannot remove the whole document")
    node = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(node, dict):
        if last not in node:
            raise _invalid(f"unable to remove nonexistent key: {last}: missing value")
        return node.pop(last)
    if isinstance(node, list):
        return node.pop(_index(node, last, path, insert=False))
    raise _invalid(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    node = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list):
        node.insert(_index(node, last, path, insert=True), value)
    else:
        raise _invalid(f"doc is missing path: {path!r}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 on a copy of `doc`; a failed operation is a 422 like the real server's."""
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise ApiError(400, f"missing value in json patch operation {kind} {path}")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise ApiError(400, f"missing from in json patch operation {kind} {path}")
            value = _remove(doc, op["from"]) if kind == "move" else _get(doc, op["from"])
            doc = _add(doc, path, copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _invalid(f"testing value {path} failed: test failed")
        else:
            raise ApiError(400, f"unexpected kind of json patch operation: {kind!r}")
    return doc


def _strip(value: Any) -> Any:
    """A patch value inserted as is, without strategic-merge directives."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _merge_list(original: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    result = list(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise ApiError(400, f"map: {item!r} does not contain declared merge key: {key}")
        position = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append(_strip(item))
        else:
            result[position] = strategic_merge(result[position], item)
    return result


def _order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Apply `$setElementOrder`: listed elements in that order, the others after them."""

    def ident(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    return ranked + [i for i in items if ident(i) not in wanted]


def strategic_merge(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(original, dict):
        return _strip(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    if directive is not None:
        raise ApiError(400, f"Unknown patch type: {directive}")
    result = dict(original)
    orders: dict[str, list[Any]] = {}
    for name, value in patch.items():
        if name.startswith("$setElementOrder/"):
            orders[name.split("/", 1)[1]] = value
        elif name.startswith("$deleteFromPrimitiveList/"):
            field = name.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif name.startswith("$"):
            continue
        elif value is None:
            result.pop(name, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(name) or {}, value)
            if merged is _DELETE:
                result.pop(name, None)
            else:
                result[name] = merged
        elif isinstance(value, list) and name in MERGE_KEYS:
            result[name] = _merge_list(result.get(name) or [], value, MERGE_KEYS[name])
        elif isinstance(value, list) and name in PRIMITIVE_MERGE:
            current = list(result.get(name) or [])
            result[name] = current + [v for v in value if v not in current]
        else:
            result[name] = _strip(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _order(result[field], order, MERGE_KEYS.get(field))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result

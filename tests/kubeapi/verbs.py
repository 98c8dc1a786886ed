"""The verbs on one resource (get, list, watch, create, update, patch, delete) with the real
server's parameters, checks and answers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

from kubeapi import protobuf
from kubeapi.patches import json_patch, merge_patch, strategic_merge
from kubeapi.resources import Resource
from kubeapi.selectors import combine, field_selector, label_selector
from kubeapi.status import ApiError, bad_request, expired, int_param, not_found
from kubeapi.store import Entry, encode
from kubeapi.transport import Response, json_response
from kubeapi.watch import WatchStream

if TYPE_CHECKING:
    from kubeapi.server import KubeAPIServer
    from kubeapi.transport import Handler

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc


def _encode_continue(rv: int, start: str) -> str:
    data = encode({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _parse_rv(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f'resourceVersion: Invalid value: "{value}": must be an integer') from exc


class Request:
    """One API request on one resource: the verbs' semantics."""

    def __init__(
        self,
        *,
        api: KubeAPIServer,
        handler: Handler,
        res: Resource,
        namespace: str | None,
        name: str | None,
        sub: str | None,
        query: dict[str, str],
        body: bytes,
    ) -> None:
        self.api, self.handler, self.res = api, handler, res
        self.namespace, self.name, self.sub = namespace, name, sub
        self.query, self.body = query, body
        self.dry_run = query.get("dryRun") == "All"

    def _selector(self) -> Callable[[dict[str, Any]], bool] | None:
        name = self.name
        return combine(
            label_selector(self.query.get("labelSelector", "")),
            field_selector(self.query.get("fieldSelector", ""), self.res),
            None if name is None else lambda obj: obj["metadata"]["name"] == name,
        )

    def _object(self) -> dict[str, Any]:
        content_type = self.handler.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/vnd.kubernetes.protobuf":
            return self._check_kind(protobuf.decode(self.body))
        try:
            obj = json.loads(self.body or b"null")
        except ValueError as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc
        return self._check_kind(obj)

    def _check_kind(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        if not obj.get("kind"):
            raise bad_request("Object 'Kind' is missing in request body")
        if obj.get("apiVersion") != self.res.api_version:
            raise bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                f"expected API version ({self.res.api_version})"
            )
        if obj["kind"] != self.res.kind:
            raise bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind "
                f"({self.res.kind})"
            )
        return obj

    # --- reads --------------------------------------------------------------------------------

    def get(self) -> Response:
        entry = self.api.store.get(self.res, self.namespace, self.name or "")
        if entry is None:
            raise not_found(self.res, self.name or "")
        return Response(200, entry.raw)

    def list_objects(self) -> Response:
        query = self.query
        rv, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
        token, limit = query.get("continue", ""), int_param(query, "limit")
        if match and not rv:
            raise ApiError(
                422,
                'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        if match not in ("", "Exact", "NotOlderThan"):
            raise ApiError(
                422,
                f'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported '
                f'value: "{match}"',
            )
        at_rv = min_rv = None
        start = ""
        if token:
            if rv not in ("", "0"):
                raise ApiError(
                    422,
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersion: Forbidden: '
                    "specifying resource version is not allowed when using continue",
                )
            at_rv, start = _decode_continue(token)
            if at_rv == -1:  # the inconsistent continuation a 410 offers: at the newest version
                at_rv = None
        elif match == "Exact":
            at_rv = _parse_rv(rv)
        elif rv not in ("", "0"):
            min_rv = _parse_rv(rv)
        try:
            page = self.api.store.list(
                self.res,
                self.namespace,
                self._selector(),
                at_rv=at_rv,
                min_rv=min_rv,
                start=start,
                limit=limit,
            )
        except ApiError as err:
            if token and err.code == 410:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use the "
                    "continue token in this response to retrieve the remainder of the results. "
                    "Continuing with the provided token results in an inconsistent list - objects "
                    "that were created, modified, or deleted between the time the first chunk was "
                    "returned and now may show up in the list.",
                    {"continue": _encode_continue(-1, start)},
                ) from err
            raise
        meta: dict[str, Any] = {"resourceVersion": str(page.rv)}
        if page.next_key is not None:
            meta["continue"] = _encode_continue(page.rv, page.next_key)
            if page.remaining is not None:
                meta["remainingItemCount"] = page.remaining
        return Response(200, self._list_body(meta, page.items))

    def _list_body(self, meta: dict[str, Any], items: list[Entry]) -> bytes:
        """A list as the real server sends it: items without their own kind and apiVersion."""
        head = {"kind": self.res.list_kind, "apiVersion": self.res.api_version, "metadata": meta}
        type_meta = encode({"kind": self.res.kind, "apiVersion": self.res.api_version})[:-1] + b","
        cut = len(type_meta)
        raws = (b"{" + e.raw[cut:] if e.raw.startswith(type_meta) else e.raw for e in items)
        return encode(head)[:-1] + b',"items":[' + b",".join(raws) + b"]}"

    def watch(self) -> None:
        WatchStream(
            api=self.api,
            handler=self.handler,
            res=self.res,
            namespace=self.namespace,
            match=self._selector(),
            query=self.query,
        ).run()

    # --- writes -------------------------------------------------------------------------------

    def create(self) -> Response:
        entry = self.api.store.create(
            self.res, self._object(), self.namespace, dry_run=self.dry_run
        )
        return Response(201, entry.raw)

    def update(self) -> Response:
        body = self._object()
        entry = self.api.store.update(
            self.res,
            self.namespace,
            self.name or "",
            lambda _: body,
            status_only=self.sub == "status",
            dry_run=self.dry_run,
        )
        return Response(200, entry.raw)

    def patch(self) -> Response:
        content_type = self.handler.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: " + ", ".join(PATCH_TYPES),
            )
        if content_type == "application/apply-patch+yaml":
            return self._apply()
        try:
            patch = json.loads(self.body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding patch: {exc}") from exc
        if content_type == "application/json-patch+json":
            change = lambda current: json_patch(current, patch)  # noqa: E731
        else:
            if not isinstance(patch, dict):
                raise bad_request("error decoding patch: the patch must be a JSON object")
            apply = (
                merge_patch if content_type == "application/merge-patch+json" else strategic_merge
            )
            change = lambda current: apply(current, patch)  # noqa: E731
        entry = self.api.store.update(
            self.res,
            self.namespace,
            self.name or "",
            change,
            status_only=self.sub == "status",
            dry_run=self.dry_run,
        )
        return Response(200, entry.raw)

    def _apply(self) -> Response:
        """Server-side apply, simplified: create, or merge the applied fields into the object.

        Field ownership is not tracked, so fields a manager stops applying are not removed.
        """
        if not self.query.get("fieldManager"):
            raise ApiError(422, "fieldManager: Required value: is required for apply patch")
        try:
            obj = self._check_kind(yaml.safe_load(self.body))
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
        store = self.api.store
        name = self.name or ""
        if store.get(self.res, self.namespace, name) is None:
            obj.setdefault("metadata", {}).setdefault("name", name)
            return Response(
                201, store.create(self.res, obj, self.namespace, dry_run=self.dry_run).raw
            )
        entry = store.update(
            self.res,
            self.namespace,
            name,
            lambda current: strategic_merge(current, obj),
            status_only=self.sub == "status",
            dry_run=self.dry_run,
        )
        return Response(200, entry.raw)

    def _delete_options(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            options = json.loads(self.body)
        except ValueError as exc:
            raise bad_request(f"invalid DeleteOptions: {exc}") from exc
        if not isinstance(options, dict):
            raise bad_request("invalid DeleteOptions: not an object")
        if options.get("dryRun") == ["All"]:
            self.dry_run = True
        return options

    def delete(self) -> Response:
        preconditions = self._delete_options().get("preconditions") or {}
        entry = self.api.store.delete(
            self.res,
            self.namespace,
            self.name or "",
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            dry_run=self.dry_run,
        )
        if self.res.kind in ("Pod", "Namespace"):
            return Response(200, entry.raw)
        details: dict[str, Any] = {"name": self.name, "kind": self.res.plural}
        if self.res.group:
            details["group"] = self.res.group
        details["uid"] = entry.obj["metadata"]["uid"]
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return json_response(200, {**status, "details": details})

    def delete_collection(self) -> Response:
        self._delete_options()
        store = self.api.store
        page = store.list(self.res, self.namespace, self._selector())
        deleted = [
            store.delete(
                self.res,
                e.obj["metadata"].get("namespace"),
                e.obj["metadata"]["name"],
                dry_run=self.dry_run,
            )
            for e in page.items
        ]
        return Response(200, self._list_body({"resourceVersion": str(page.rv)}, deleted))

"""A ConfigMap's or Secret's keys as the bytes a pod would read, for judging.

Uses the one decoder that sync projects with (``data``/``binaryData``, base64 for Secrets), and
adds ``stringData``: absent from what the API returns, it is present in manifests on disk, where
it wins over ``data`` as the API server would merge it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubereload.sync.objects import configmap_files, secret_files


def decode_files(obj: Mapping[str, Any]) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """(key -> bytes, keys whose base64 was invalid)."""
    if obj.get("kind") == "Secret":
        decoded = secret_files(obj)
        files = dict(decoded.files)
        for key, value in (obj.get("stringData") or {}).items():
            files[str(key)] = str(value).encode()
        bad = tuple(k for k in decoded.undecodable if k not in files)
        return files, bad
    decoded = configmap_files(obj)
    return dict(decoded.files), decoded.undecodable

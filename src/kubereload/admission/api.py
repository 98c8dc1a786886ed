"""Schemas referenced by ``kubereload.io/schema``, read from ConfigMaps through the API.

Read with ``get configmaps`` only (never Secrets), each answer kept ``ttl`` seconds in a bounded
cache, so a burst of applies costs one read. The requests run on one asyncio loop in a thread of
their own; the webhook's threads wait for an answer at most ``timeout`` seconds, then the request
is answered as an error (the API server's ``failurePolicy`` decides) rather than with a verdict.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Any

from kubereload.admission.engine import SchemaUnavailable
from kubereload.admission.rules import SchemaRef
from kubereload.kube import CONFIGMAPS, ApiError, Cluster, KubeClient, KubeError, async_client


class ApiSchemas:
    """A :class:`~kubereload.admission.engine.SchemaSource` on the cluster's ConfigMaps."""

    def __init__(
        self, config: Cluster, *, ttl: float = 5.0, timeout: float = 2.0, size: int = 256
    ) -> None:
        self.ttl, self.timeout, self.size = ttl, timeout, size
        self._cache: OrderedDict[tuple[str, str], tuple[float, dict[str, Any] | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubereload-admission-api", daemon=True
        )
        self._thread.start()
        self._client = asyncio.run_coroutine_threadsafe(
            self._make_client(config), self._loop
        ).result(30)

    async def _make_client(self, config: Cluster) -> KubeClient:
        return async_client(config, timeout=self.timeout)

    def fetch(self, ref: SchemaRef) -> bytes | None:
        obj = self._configmap(ref.namespace, ref.name)
        if obj is None:
            return None
        value = (obj.get("data") or {}).get(ref.key)
        return None if value is None else str(value).encode()

    def _configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        key = (namespace, name)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        future = asyncio.run_coroutine_threadsafe(self._get(namespace, name), self._loop)
        try:
            obj = future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise SchemaUnavailable("the API server did not answer in time") from None
        except KubeError as exc:
            detail = f"HTTP {exc.code}" if isinstance(exc, ApiError) else "no answer"
            raise SchemaUnavailable(
                f"reading ConfigMap {namespace}/{name} failed ({detail})"
            ) from None
        with self._lock:
            self._cache[key] = (now, obj)
            self._cache.move_to_end(key)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return obj

    async def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._client.get(CONFIGMAPS, namespace, name)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

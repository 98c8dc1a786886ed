"""The kubelet's own AtomicWriter as a process, for tests and benchmarks.

``kubelet-atomicwriter DIR`` (in KUBEBUILDER_ASSETS beside the control plane binaries) is the
kubelet's pkg/volume/util.AtomicWriter, wrapped: it reads one JSON object per stdin line
(``{"path": "content"}``), writes it into DIR exactly as the kubelet updates a ConfigMap or
Secret volume, and prints ``time.Now().UnixNano()`` once the write has returned.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from support.controlplane import assets_dir

BINARY = "kubelet-atomicwriter"


def kubelet_writer_binary() -> Path | None:
    """The wrapped kubelet writer in KUBEBUILDER_ASSETS, if it is there."""
    assets = assets_dir()
    binary = assets / BINARY if assets is not None else None
    return binary if binary is not None and binary.is_file() else None


class KubeletWriter:
    """One running kubelet writer for ``target`` (created if missing, as the kubelet's is)."""

    def __init__(self, target: Path, binary: Path | None = None) -> None:
        found = binary or kubelet_writer_binary()
        if found is None:
            raise FileNotFoundError(f"{BINARY} not found in KUBEBUILDER_ASSETS")
        target.mkdir(parents=True, exist_ok=True)
        self.target = target
        self._proc = subprocess.Popen(
            [str(found), str(target)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def write(self, payload: Mapping[str, str]) -> int:
        """Write ``payload`` (the whole volume); returns the writer's wall clock (ns) when its
        write returned, after every step is done."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(dict(payload)) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            stderr = self._proc.stderr.read() if self._proc.stderr else ""
            raise RuntimeError(f"{BINARY} exited: {stderr.strip()[-500:]}")
        return int(line)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> KubeletWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

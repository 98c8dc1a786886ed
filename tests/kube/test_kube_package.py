"""``kubereload.kube`` loads its names on first use: a submodule that needs no HTTP client
(the decoder, the errors, the resources) is imported without httpx2, asyncio or lightkube."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "httpx2", "lightkube", "asyncio")


@pytest.mark.parametrize(
    "module", ["kubereload.kube.data", "kubereload.kube.errors", "kubereload.kube.resources"]
)
def test_a_light_submodule_loads_no_http_client(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_name_is_still_importable_from_the_package() -> None:
    from kubereload import kube

    for name in kube.__all__:
        assert getattr(kube, name) is not None
    from kubereload.kube import Informer, KubeClient, decode_data

    assert KubeClient.__module__ == "kubereload.kube.client"
    assert Informer.__module__ == "kubereload.kube.informer"
    assert decode_data.__module__ == "kubereload.kube.data"
    assert set(kube.__all__) <= set(dir(kube))
    with pytest.raises(AttributeError):
        _ = kube.NoSuchName

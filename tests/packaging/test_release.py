"""The release artefacts: what `python -m build` makes is what an index and a user get.

Builds the sdist and wheel from this checkout (offline, `--no-isolation`), runs `twine check`
on them, and checks their contents and metadata: the licence text, the single-sourced version,
Project-URLs, a README that renders with links that work off the repository, and nothing stray.
"""

from __future__ import annotations

import email.parser
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import kubereload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def _one(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_twine_check_passes(dist: Path) -> None:
    files = [str(p) for p in sorted(dist.iterdir())]
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_holds_the_package_and_licence_only(dist: Path) -> None:
    wheel = _one(dist, "kubereload-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    info = f"kubereload-{kubereload.__version__}.dist-info/"
    stray = [n for n in names if not (n.startswith("kubereload/") or n.startswith(info))]
    assert stray == []
    assert "kubereload/py.typed" in names
    assert f"{info}licenses/LICENSE" in names
    assert not [n for n in names if "/tests/" in n or n.endswith(".pyc")]
    # every module of the source tree is shipped
    shipped = {n for n in names if n.endswith(".py")}
    sources = {
        p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/kubereload").rglob("*.py")
    }
    assert sources == shipped


def test_sdist_has_no_stray_tests(dist: Path) -> None:
    sdist = _one(dist, "kubereload-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
    assert {"LICENSE", "NOTICE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_metadata_version_licence_and_urls(dist: Path) -> None:
    wheel = _one(dist, "kubereload-*.whl")
    raw = zipfile.ZipFile(wheel).read(f"kubereload-{kubereload.__version__}.dist-info/METADATA")
    meta = email.parser.BytesParser().parsebytes(raw)
    assert meta["Version"] == kubereload.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())


def test_licence_is_the_full_apache_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_readme_links_work_on_an_index_page() -> None:
    """A relative link resolves against the index's URL, not the repository: none may remain."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets
    assert [t for t in targets if not t.startswith(("https://", "#"))] == []

"""The Dockerfile's rules, checked without a Docker daemon (there is none on CI).

What a user of the image relies on: a pinned base, no pip or setuptools at run time, a
non-root numeric user, OCI labels, a default command that is not the demo, a build context
that holds only what is copied, and pinned dependency versions that cover every runtime
dependency (so two builds of one commit install the same code).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for row in _instructions():
        if row[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(row)
    return stages


def test_base_is_pinned_to_a_patch_release() -> None:
    (arg,) = [rest for word, rest in _instructions() if word == "ARG" and "PYTHON_IMAGE" in rest]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), image
    assert [rest for word, rest in _instructions() if word == "FROM"] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]
    # digest pinning is documented where the user reads it
    assert "@sha256:" in (ROOT / "Dockerfile").read_text()


def test_runtime_stage_has_no_pip_setuptools_or_sources() -> None:
    build, final = _stages()
    build_runs = " ".join(rest for word, rest in build if word == "RUN")
    assert re.search(r"pip uninstall --yes pip setuptools", build_runs)
    assert "-c /src/image-constraints.txt" in build_runs
    assert "--invalidation-mode unchecked-hash" in build_runs  # timestamp-free bytecode
    final_words = [word for word, _ in final]
    assert "RUN" not in final_words  # nothing installed or compiled in the runtime stage
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies == ["--from=build /opt/kubereload /opt/kubereload"]


def test_runs_as_numeric_non_root_user_with_a_useful_default() -> None:
    _, final = _stages()
    (user,) = [rest for word, rest in final if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    (entrypoint,) = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint == '["kubereload"]'
    (cmd,) = [rest for word, rest in final if word == "CMD"]
    assert "demo" not in cmd


def test_oci_labels() -> None:
    _, final = _stages()
    labels = " ".join(rest for word, rest in final if word == "LABEL")
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'licenses="Apache-2.0"' in labels


def test_build_context_holds_only_what_is_copied() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything is out unless named
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    build, _ = _stages()
    copied: set[str] = set()
    for word, rest in build:
        if word == "COPY":
            copied.update(part.rstrip("/") for part in rest.split()[:-1])
    assert copied == allowed


def _runtime_requirements(name: str, seen: set[str]) -> None:
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = requirement.name.lower().replace("_", "-")
        if key not in seen:
            seen.add(key)
            _runtime_requirements(requirement.name, seen)


def test_constraints_pin_every_runtime_dependency() -> None:
    pinned = {}
    for line in (ROOT / "image-constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pinned[name.lower().replace("_", "-")] = version
    needed: set[str] = set()
    _runtime_requirements("kubereload", needed)
    assert needed - set(pinned) == set()

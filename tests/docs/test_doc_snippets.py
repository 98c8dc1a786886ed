"""Every sh and python block of README.md, docs/ and deploy/ runs here, so docs cannot rot.

How each block runs is in ``support.docs`` (markers on the line before a fence). A block runs
in a directory of its own that links the repository's top-level entries (so ``deploy/...``
and ``.venv/bin/python bench/...`` resolve, and files it writes stay there), with ``kubectl``
pointed at the test API server. ``kubectl apply -k DIR`` is checked as ``kubectl kustomize
DIR`` and ``kubectl apply -f FILE`` as a client-side dry run: the test server is not a cluster
that runs what they would create.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi.cluster import LocalCluster
from kubereload.cli.aliases import go_style
from kubereload.cli.main import build_parser
from support.demo import Demo, demo_env
from support.docs import ROOT, Block, all_blocks, commands
from support.process import TIMEOUT

BLOCKS = all_blocks()
SHELL_OPERATORS = re.compile(r"\s(?:\||&&|;|>|2>|&)\s|\s&$")


def test_the_docs_have_blocks_and_few_are_not_run() -> None:
    assert len(BLOCKS) > 20  # the extraction finds them
    not_run = [b for b in BLOCKS if b.mode == "skip"]
    assert len(not_run) <= len(BLOCKS) // 4, [b.id for b in not_run]


def kubereload_argv(line: str) -> list[str] | None:
    """The arguments of a ``kubereload ...`` command line, up to the first shell operator."""
    words = line.split()
    if "kubereload" not in words:
        return None
    start = words.index("kubereload")
    if start > 0 and words[start - 1] not in ("|", "&&", ";"):
        return None  # an argument to something else (a path, a name)
    rest = " ".join(words[start + 1 :])
    rest = SHELL_OPERATORS.split(" " + rest + " ", maxsplit=1)[0]
    rest = rest.split(" #", 1)[0]
    return shlex.split(rest)


def check_kubereload_lines(block: Block) -> None:
    """Each ``kubereload`` command line parses with the real CLI: no unknown flag or value."""
    for line in commands(block.code):
        argv = kubereload_argv(line)
        if argv is None:
            continue
        args = go_style(argv)
        try:
            build_parser(args).parse_args(args)
        except SystemExit as exc:
            if exc.code not in (0, None):
                message = f"{block.id}: `kubereload {' '.join(argv)}` is refused"
                raise AssertionError(message) from None


def check_python(block: Block) -> None:
    """The block compiles, and every module and name it imports exists."""
    tree = ast.parse(block.code, filename=block.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"
                ), f"{block.id}: {node.module} has no {alias.name}"


def workdir(tmp_path: Path) -> Path:
    """A directory that looks like the repository's root; what a block writes stays in it."""
    work = tmp_path / "work"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != ".git":
            (work / entry.name).symlink_to(entry)
    return work


def as_checked(line: str) -> str:
    """``kubectl apply`` of the repository's manifests, as a check that needs no cluster."""
    line = re.sub(r"kubectl apply -k (\S+)", r"kubectl kustomize \1 >/dev/null", line)
    return re.sub(r"kubectl apply -f (\S+)", r"kubectl apply --dry-run=client -f \1", line)


def run_shell(block: Block, script: str, env: dict[str, str], cwd: Path) -> None:
    subprocess.run(["bash", "-n", "-c", script], check=True, cwd=cwd)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
        check=False,
    )
    assert done.returncode == 0, f"{block.id} failed:\n{script}\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def block_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The demo's TMPDIR in the test's directory, the venv's commands first on PATH, and
    kubectl talking to the test API server over TLS (so that it sends its token)."""
    (tmp_path / "cluster").mkdir()
    cluster = LocalCluster(tmp_path / "cluster")
    env = demo_env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        yield env
    finally:
        cluster.close()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block(
    block: Block, tmp_path: Path, block_env: dict[str, str], start_demo: type[Demo]
) -> None:
    if block.mode == "skip":
        pytest.skip(f"doc-test: skip: {block.reason}")
    if block.language == "python":
        check_python(block)
        if block.mode == "parse":
            return
        program = tmp_path / "block.py"
        program.write_text(block.code + RUN_TESTS)
        done = subprocess.run(
            [sys.executable, str(program), str(tmp_path)],
            cwd=tmp_path,
            env=block_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 2,
            check=False,
        )
        assert done.returncode == 0, f"{block.id} failed:\n{done.stdout}\n{done.stderr}"
        return
    check_kubereload_lines(block)
    if block.mode == "parse":
        subprocess.run(["bash", "-n", "-c", block.code], check=True)
        # what needs no cluster is still run: make targets exist, manifests build
        checks = [
            as_checked(line).split(" #", 1)[0]
            for line in commands(block.code)
            if re.match(r"(make [a-z]|kubectl apply -[kf] deploy/)", line)
        ]
        checks = [
            f"make -n {line[5:]} >/dev/null" if line.startswith("make ") else line
            for line in checks
        ]
        if checks:
            run_shell(block, "\n".join(checks), block_env, workdir(tmp_path))
        return
    script = "\n".join(as_checked(line) for line in commands(block.code))
    if block.mode == "demo":
        demo = start_demo([], block_env)
        # the block's own start of the demo is this fixture's; its fixed port is the demo's
        script = "\n".join(
            line
            for line in script.splitlines()
            if not re.match(r"(make demo|kubereload demo)\s*(#|$)", line)
        ).replace("127.0.0.1:8080", f"127.0.0.1:{demo.port}")
        run_shell(block, script, block_env, workdir(tmp_path))
        assert demo.stop(signal.SIGTERM) == 0
        return
    run_shell(block, script, block_env, workdir(tmp_path))


# Appended to a python block: a block that defines test functions shows them passing.
RUN_TESTS = """

def _run_doc_tests() -> None:
    import inspect
    import pathlib
    import sys

    for name, value in list(globals().items()):
        if name.startswith("test_") and callable(value):
            wanted = inspect.signature(value).parameters
            value(**({"tmp_path": pathlib.Path(sys.argv[1])} if "tmp_path" in wanted else {}))


_run_doc_tests()
"""

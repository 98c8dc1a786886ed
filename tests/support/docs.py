"""The ``sh`` and ``python`` blocks of README.md, docs/ and deploy/, and how each is to run.

A block runs as written unless the line just before its opening fence says otherwise:

    <!-- doc-test: demo -->           run beside a `kubereload demo` started for it
    <!-- doc-test: parse: REASON -->  only checked: shell syntax, every `kubereload ...` line
                                      against the real CLI, Python compiled and its imports
    <!-- doc-test: skip: REASON -->   not run at all (a real cluster, a container build, ...)

A REASON is required for ``parse`` and ``skip``: it says what the block needs that a test here
cannot give it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("sh", "python")
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(\w+)(?::\s*(.*?))?\s*-->\s*$")
MODES = ("run", "demo", "parse", "skip")


@dataclass(frozen=True)
class Block:
    path: Path  # relative to the repository root
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    mode: str
    reason: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def documents(root: Path = ROOT) -> list[Path]:
    """README.md, every Markdown file under docs/ and deploy/."""
    found = [root / "README.md"]
    for folder in ("docs", "deploy"):
        found += sorted((root / folder).rglob("*.md"))
    return [path for path in found if path.exists()]


def blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The sh and python blocks of one Markdown file, with the mode their marker gives."""
    lines = path.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"{path}:{i + 1}: a code block that never ends")
        language = fence.group(1)
        if language in LANGUAGES:
            marker = MARKER.match(lines[i - 1]) if i > 0 else None
            mode, reason = (marker.group(1), marker.group(2) or "") if marker else ("run", "")
            if mode not in MODES:
                raise ValueError(f"{path}:{i}: unknown doc-test mode {mode!r} (one of {MODES})")
            if mode in ("parse", "skip") and not reason:
                raise ValueError(f"{path}:{i}: doc-test: {mode} needs a reason")
            code = "\n".join(lines[i + 1 : end]) + "\n"
            out.append(Block(path.relative_to(root), i + 1, language, code, mode, reason))
        i = end + 1
    return out


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [block for path in documents(root) for block in blocks(path, root)]


def commands(code: str) -> list[str]:
    """The shell command lines of a block: continuations joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out

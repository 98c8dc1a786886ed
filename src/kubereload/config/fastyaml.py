"""YAML through rapidyaml when it is installed: PyYAML's safe-loader values, ~20x sooner.

The library, ``check`` and the admission webhook must read a document the same way, whether or
not rapidyaml is installed where they run, so this module never decides anything PyYAML would
decide differently: it answers only for documents whose meaning it can vouch for, and says
:data:`UNSURE` for every other, which then goes to PyYAML (the reference: YAML 1.1, as
``yaml.SafeLoader``). Unsure are: anything rapidyaml refuses (PyYAML then gives the error and
its position), tags, anchors and aliases, directives, escapes, control characters and the
line breaks YAML 1.1 knows beyond ``\\n``, characters PyYAML refuses at a token's start, more
than one document, nesting over the limit, and every scalar whose YAML 1.1 type could hinge on
whether it was quoted (``yes``, ``~``, ``010``, ``1_000``, ``12:30``, dates, ``1e3``...).

What is left is read as rapidyaml's JSON rendering of its tree, by the json module: containers,
strings, and plain scalars rapidyaml writes as JSON numbers, ``true``, ``false`` or ``null``,
which PyYAML resolves to the same values. rapidyaml reports a failure by printing it on the C
``stderr`` (with a character of the input at times) before raising; :class:`_QuietStderr`
points that stream elsewhere during a parse.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from typing import Any, Final

import yaml.resolver


class _Unsure(Exception):
    """The document needs PyYAML's own reading."""


UNSURE: Final = object()
"""What :func:`load` returns for a document it cannot vouch for."""

# Bytes whose meaning differs between the two parsers, or that only PyYAML handles here:
# control characters (tab and CR too), tags, anchors, aliases, directives, escapes.
_SCREENED_BYTES = (
    b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\x0b\x0c\r\x0e\x0f"
    + bytes(range(0x10, 0x20))
    + b"\x7f!&*%\\"
)
_NOT_SCREENED = bytes(b for b in range(256) if b not in _SCREENED_BYTES)
# Merge keys; a sign before a bare fraction ("-.5" is a string to PyYAML); the document end
# marker "..." (PyYAML refuses a stream of it alone).
_SCREENED_PAIRS = (b"<<", b"-.", b"+.", b"...")
# Where a token may start, "@" and "`", and outside a flow collection "]", "}" and ",": PyYAML
# refuses them there, rapidyaml reads text; and block scalars ("|", ">"), where fuzzing found
# the two parsers apart (unindented content, a missing last line break). Each is found in C,
# its previous byte looked at.
_TOKEN_STARTS = (
    (b"@`", frozenset(b" \n[]{},:?-")),
    (b"]},", frozenset(b" \n,:")),
    (b"|>", frozenset(b" \n")),  # block scalars: the parsers part on their edge cases
)
# LS, PS (line breaks in YAML 1.1), BOM, U+FFFE, U+FFFF; and the C1 controls (NEL among them).
_SCREENED_UTF8 = (
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
    b"\xef\xbb\xbf",
    b"\xef\xbf\xbe",
    b"\xef\xbf\xbf",
)
_C1_CONTROLS = frozenset(range(0x80, 0xA0))


def _preceded(data: bytes, char: int, before: frozenset[int]) -> bool:
    """Whether some byte ``char`` in ``data`` is first, or comes after one of ``before``."""
    at = data.find(char)
    while at >= 0:
        if at == 0 or data[at - 1] in before:
            return True
        at = data.find(char, at + 1)
    return False


def _c1_control(data: bytes) -> bool:
    """Whether ``data`` (valid UTF-8) holds a C1 control character (\\xc2 then 0x80-0x9f)."""
    at = data.find(0xC2)
    while at >= 0:
        if data[at + 1] in _C1_CONTROLS:
            return True
        at = data.find(0xC2, at + 2)
    return False


def _screened(data: bytes) -> bool:
    """Whether ``data`` holds something only PyYAML reads (C passes over the bytes, mostly)."""
    if data.translate(None, _NOT_SCREENED) or any(pair in data for pair in _SCREENED_PAIRS):
        return True
    for chars, before in _TOKEN_STARTS:
        if any(_preceded(data, char, before) for char in chars):
            return True
    return any(sequence in data for sequence in _SCREENED_UTF8) or _c1_control(data)


def _first_characters() -> str:
    """The characters PyYAML's implicit resolvers look at first (a string starting otherwise
    is a string)."""
    return "".join(sorted(c for c in yaml.resolver.Resolver.yaml_implicit_resolvers if c))


def _implicit_patterns() -> str:
    """PyYAML's implicit resolvers (bool, int, float, null, timestamp, merge, value), as one
    alternation: a string matching it is not a string once written plain."""
    seen: dict[str, None] = {}
    for entries in yaml.resolver.Resolver.yaml_implicit_resolvers.values():
        for _tag, regexp in entries:
            seen[regexp.pattern] = None
    # Each pattern is anchored as ^...$; the anchors are replaced by the JSON quotes.
    return "|".join(f"(?:{pattern.strip()[1:-1]})" for pattern in seen)


# A JSON string whose content PyYAML would resolve to something else than a string if it were
# plain. The JSON rendering quotes keys always, and values that rapidyaml does not take for
# numbers, true, false or null, so such a string may have been plain or quoted.
_RESOLVABLE = re.compile(
    f'"(?=[{re.escape(_first_characters())}"])(?:{_implicit_patterns()})"', re.VERBOSE
)
# Values rapidyaml writes unquoted when they are plain: quoted in its JSON, they were quoted.
_JSON_LITERAL = re.compile(
    r'"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null)"'
)
_AFTER_STRING = re.compile(r"\s*:")


def _is_resolvable(text: str) -> bool:
    """Whether some JSON string in ``text`` may stand for a plain scalar PyYAML resolves."""
    for found in _RESOLVABLE.finditer(text):
        is_key = _AFTER_STRING.match(text, found.end()) is not None
        if is_key or not _JSON_LITERAL.fullmatch(found.group()):
            return True
    return False


def _float(text: str) -> float:
    # PyYAML 1.1 floats need a "." and a signed exponent; rapidyaml's rendering of an exponent
    # may not be the document's own text: leave every exponent to PyYAML.
    if "e" in text or "E" in text:
        raise _Unsure
    return float(text)


def _constant(text: str) -> Any:
    raise _Unsure  # NaN, Infinity: not JSON rapidyaml writes for a value PyYAML would agree on


class _QuietStderr:
    """The C ``stderr`` pointed at ``/dev/null`` while rapidyaml parses, and back after.

    rapidyaml prints a refusal there and flushes it, before raising. Only the C stream is
    swapped: Python's own ``sys.stderr`` (logging) writes to file descriptor 2 directly and
    is untouched. The swaps are ``PyDLL`` calls (the GIL held) under one lock."""

    def __init__(self, ryml: Any) -> None:
        import ctypes  # noqa: PLC0415 - with rapidyaml only

        self._ryml = ryml
        libc = ctypes.PyDLL(None)
        self._stderr = ctypes.c_void_p.in_dll(libc, "stderr")
        self._fopen = libc.fopen
        self._fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self._fopen.restype = ctypes.c_void_p
        self._fclose = libc.fclose
        self._fclose.argtypes = [ctypes.c_void_p]
        self.lock = threading.Lock()

    def json(self, data: bytes) -> str | None:
        """rapidyaml's JSON rendering of the one document in ``data`` (None: the document is
        empty); :class:`_Unsure` if rapidyaml refuses it, or it holds several documents."""
        with self.lock:
            # opened for each parse, closed after: a process keeps no descriptor for it
            null = self._fopen(b"/dev/null", b"w")
            if not null:
                raise _Unsure
            stream = self._stderr.value
            self._stderr.value = null
            try:
                tree = self._ryml.parse_in_arena(data)
                node = tree.root_id()
                if tree.is_stream(node):
                    if tree.num_children(node) != 1:
                        raise _Unsure  # several documents (an error for PyYAML), or none
                    node = tree.first_child(node)
                text: str | None = self._ryml.emit_json(tree, node)
                return text
            except Exception:  # a parse or emit error (its text can quote the input)
                raise _Unsure from None
            finally:
                self._stderr.value = stream
                self._fclose(null)


@functools.cache
def _rapidyaml() -> _QuietStderr | None:
    """rapidyaml behind its stderr guard, imported at the first document (a process that reads
    no YAML pays nothing); None where it is not installed or its stderr cannot be guarded."""
    try:
        import ryml  # noqa: PLC0415 - an optional dependency: the admission extra installs it

        return _QuietStderr(ryml)
    except (ImportError, AttributeError, ValueError, OSError):
        return None


def available() -> bool:
    """Whether documents are read through rapidyaml at all (else PyYAML reads every one)."""
    return _rapidyaml() is not None


def load(data: bytes, max_depth: int) -> Any:
    """The value PyYAML's safe loader gives ``data`` (valid UTF-8), or :data:`UNSURE`."""
    quiet = _rapidyaml()
    if quiet is None or _screened(data):
        return UNSURE
    try:
        text = quiet.json(data)
        if text is None:
            return None  # an empty document, or comments only
        if _too_deep(text, max_depth) or _is_resolvable(text):
            return UNSURE
        return json.loads(text, parse_float=_float, parse_constant=_constant)
    except (_Unsure, ValueError, RecursionError):
        return UNSURE


# What decides nesting in rapidyaml's JSON: quotes, brackets, and the escapes (a backslash and
# the character after it, which may be a quote).
_STRUCTURE = b'"[]{}\\/bfnrtu'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ESCAPE = re.compile(rb"\\.")
_INNERMOST = re.compile(rb"\{\}|\[\]")


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether the JSON nests more than ``max_depth`` containers (brackets in strings skipped).

    The bytes are cut down to quotes, brackets and escapes in C, the strings dropped, and then
    the innermost containers removed per pass: a document needs as many passes as it is
    deep."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    structure = text.encode().translate(None, _NOT_STRUCTURE)
    if b"\\" in structure:
        structure = _ESCAPE.sub(b"", structure)
    outside_strings = b"".join(structure.split(b'"')[::2])
    brackets = outside_strings.translate(None, _NOT_BRACKETS)
    for _level in range(max_depth):
        emptied = _INNERMOST.sub(b"", brackets)
        if not emptied:
            return False
        brackets = emptied
    return True

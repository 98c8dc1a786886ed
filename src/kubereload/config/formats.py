"""Parsers for the formats ConfigMaps carry, chosen by file extension or by name, within limits.

Each parser takes bytes and returns plain Python data, or raises :class:`ConfigError` with the
line and column where it can tell them. Messages are our own words, or the few fixed messages of
a parser that are known never to quote the input (compared whole, never passed through); any
other text a parser produces is dropped, since it can quote a Secret's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from kubereload.config import fastyaml
from kubereload.config.errors import ConfigError
from kubereload.config.limits import DEFAULT_LIMITS, Limits

Parser = Callable[[bytes], Any]
_LimitedParser = Callable[[bytes, Limits], Any]

_YAML_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
    line, column = _position(data, start)
    raise ConfigError(
        f"not valid UTF-8 (at byte offset {start})", kind="encoding", line=line, column=column
    )


def _too_deep(limits: Limits, line: int | None = None, column: int | None = None) -> ConfigError:
    return ConfigError(
        f"nested more than {limits.max_depth} levels deep (the limit max_depth)",
        kind="too-deep",
        line=line,
        column=column,
    )


# -- YAML ---------------------------------------------------------------------------------------

# libyaml's own messages: fixed strings that never quote the document (PyYAML's pure-Python
# scanner, used where libyaml is missing, does quote it; its messages are not on this list).
_YAML_PROBLEMS = frozenset(
    {
        "mapping values are not allowed in this context",
        "found character that cannot start any token",
        "could not find expected ':'",
        "found unexpected end of stream",
        "found unknown escape character",
        "did not find expected key",
        "did not find expected node content",
        "did not find expected '-' indicator",
        "did not find expected ',' or ']'",
        "did not find expected ',' or '}'",
        "did not find expected <document start>",
        "did not find expected comment or line break",
        "did not find expected whitespace or line break",
        "did not find expected alphabetic or numeric character",
        "did not find expected hexdecimal number",
        "found invalid Unicode character escape code",
        "found a tab character that violates indentation",
        "found a tab character where an indentation space is expected",
        "found unexpected document indicator",
        "found duplicate %YAML directive",
        "found incompatible YAML document",
        "found duplicate %TAG directive",
        "found undefined tag handle",
        "block sequence entries are not allowed in this context",
        "exceeded maximum nesting depth",
    }
)


class _BadTaggedValue(yaml.MarkedYAMLError):
    """A scalar its tag's constructor refused (``!!int SECRET``); carries only the position."""


class _YamlLoader(_YAML_BASE):  # type: ignore[misc,valid-type]
    """The safe loader, whose constructors' own exceptions become positions, never text."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception:
            mark = node.start_mark
        raise _BadTaggedValue(problem_mark=mark)


def yaml_message(exc: yaml.YAMLError) -> tuple[str, str]:
    """(kind, our words) for a PyYAML error, from its class and fixed messages only."""
    problem = getattr(exc, "problem", None) or ""
    if isinstance(exc, _BadTaggedValue):
        return "tag", "a value that does not fit its YAML tag (such as !!int on text)"
    if isinstance(exc, yaml.constructor.ConstructorError):
        if problem.startswith("could not determine a constructor"):
            return "tag", "a YAML tag kubereload does not construct (only the standard ones)"
        if problem.startswith("found unhashable key"):
            return "syntax", "a list or mapping used as a mapping key"
        return "tag", "a value kubereload cannot construct from this YAML"
    if isinstance(exc, yaml.composer.ComposerError):
        if problem == "found undefined alias":
            return "syntax", "an alias (*name) with no anchor (&name) before it"
        return "syntax", "an anchor (&name) given twice"
    if problem in _YAML_PROBLEMS:
        return "syntax", problem
    if isinstance(exc, yaml.reader.ReaderError):
        return "encoding", "a character YAML does not allow (a control character)"
    return "syntax", "invalid YAML"


def _check_yaml_tree(root: yaml.Node, limits: Limits) -> None:
    """Refuse a document whose aliases would expand too far, or that nests too deep.

    Composed YAML shares one node per anchor; a walk over distinct nodes (children before
    parents) knows each node's expanded size and depth without expanding anything, so an alias
    bomb costs a few microseconds per distinct node, not its billions of expanded ones.
    """
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, container depth)
    active: set[int] = set()
    added = 0  # nodes that aliases add once expanded
    stack: list[tuple[yaml.Node, bool, yaml.Node]] = [(root, False, root)]
    while stack:
        node, finishing, parent = stack.pop()
        key = id(node)
        if finishing:
            active.discard(key)
            kids = _yaml_children(node)
            size = 1 + sum(done[id(kid)][0] for kid in kids)
            depth = 1 + max((done[id(kid)][1] for kid in kids), default=0)
            if depth > limits.max_depth:
                raise _too_deep(limits, node.start_mark.line + 1, node.start_mark.column + 1)
            done[key] = (size, depth)
            continue
        if key in done:  # a second reference: an alias, which repeats the whole node
            added += done[key][0]
        elif key in active:
            added = limits.max_yaml_alias_nodes + 1  # an alias inside its own anchor: endless
        elif isinstance(node, yaml.ScalarNode):
            done[key] = (1, 0)
            continue
        else:
            active.add(key)
            stack.append((node, True, parent))
            stack.extend((kid, False, node) for kid in reversed(_yaml_children(node)))
            continue
        if added > limits.max_yaml_alias_nodes:
            mark = parent.start_mark
            raise ConfigError(
                f"YAML aliases would expand the document by more than "
                f"{limits.max_yaml_alias_nodes} nodes (the limit max_yaml_alias_nodes)",
                kind="too-many-aliases",
                line=mark.line + 1,
                column=mark.column + 1,
            )


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    text = decode_utf8(data)
    fast = fastyaml.load(data, limits.max_depth)
    if fast is not fastyaml.UNSURE:
        return fast
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_tree(node, limits)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        kind, message = yaml_message(exc)
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        position = getattr(exc, "position", None)
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        elif isinstance(position, int):
            line, column = _position(text.encode(), len(text[:position].encode()))
        else:
            line = column = None
    finally:
        loader.dispose()
    raise ConfigError(message, kind=kind, line=line, column=column)


# -- JSON ---------------------------------------------------------------------------------------

# The json module's messages, which it keeps apart from the position and never fills with input.
_JSON_MESSAGES = frozenset(
    {
        "Expecting value",
        "Expecting ',' delimiter",
        "Expecting ':' delimiter",
        "Expecting property name enclosed in double quotes",
        "Extra data",
        "Invalid control character at",
        "Invalid \\escape",
        "Invalid \\uXXXX escape",
        "Unterminated string starting at",
        "Illegal trailing comma before end of object",
        "Illegal trailing comma before end of array",
    }
)
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
# A string (skipped whole, so brackets inside it do not count) or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_json_depth(data: bytes, limits: Limits) -> None:
    """Count bracket nesting outside strings, before json (which recurses) sees the document.

    The count runs over the brackets alone (strings removed, all else deleted, in C); only a
    document found too deep is scanned again, token by token, for the position to report.
    """
    if data.count(b"[") + data.count(b"{") <= limits.max_depth:
        return
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in (0x5B, 0x7B) else -1
        if depth > limits.max_depth:
            break
    else:
        return
    depth = 0
    for token in _JSON_TOKEN.finditer(data):
        first = data[token.start()]
        if first in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(limits, *_position(data, token.start()))
        elif first != 0x22:  # ] }
            depth -= 1
    raise _too_deep(limits)


def parse_json(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    text = decode_utf8(data)
    _check_json_depth(data, limits)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = exc.msg if exc.msg in _JSON_MESSAGES else "invalid JSON"
        line, column = exc.lineno, exc.colno
    except RecursionError:
        raise _too_deep(limits) from None
    raise ConfigError(message, line=line, column=column)


# -- TOML ---------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")
_TOML_MESSAGES = frozenset(
    {
        "Invalid statement",
        "Cannot overwrite a value",
        "Expected ']' at the end of a table declaration",
        "Expected ']]' at the end of an array declaration",
        "Expected '=' after a key in a key/value pair",
        "Invalid initial character for a key part",
        "Unclosed array",
        "Unclosed inline table",
        "Unescaped '\\' in a string",
        "Invalid hex value",
        "Escaped character is not a Unicode scalar value",
        "Unterminated string",
        "Invalid date or datetime",
        "Invalid value",
    }
)
_TOML_DUPLICATE = ("Cannot declare", "Cannot overwrite", "Duplicate", "Cannot redefine")


def _container_depth(value: Any, limits: Limits) -> None:
    """Refuse parsed data nested deeper than the limit (TOML nests through dotted keys too)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limits.max_depth:
            raise _too_deep(limits)
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]


def parse_toml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    import tomllib  # noqa: PLC0415 - loaded when a TOML file is first met

    text = decode_utf8(data)
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc.args[0]) if exc.args else ""
        found = _TOML_POSITION.search(raw)
        bare = _TOML_POSITION.sub("", raw)
    except RecursionError:
        raise _too_deep(limits) from None
    else:
        _container_depth(value, limits)
        return value
    line = column = None
    if found and found.group(1):
        line, column = int(found.group(1)), int(found.group(2))
    elif found:
        line = text.count("\n") + 1
    if bare in _TOML_MESSAGES:
        kind, message = "syntax", bare
    elif bare.startswith(_TOML_DUPLICATE):
        kind, message = "duplicate", "a key or table given twice"
    else:
        kind, message = "syntax", "invalid TOML"
    raise ConfigError(message, kind=kind, line=line, column=column)


def parse_ini(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    import configparser  # noqa: PLC0415 - loaded when an INI file is first met

    text = decode_utf8(data)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys' case
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError("a [section] header must come first", line=exc.lineno) from None
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else None
        raise ConfigError(
            "a line that is neither 'key = value' nor a [section]", line=line
        ) from None
    except configparser.DuplicateSectionError as exc:
        # Neither the name nor the value is repeated here: the line says which.
        raise ConfigError("a section given twice", kind="duplicate", line=exc.lineno) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(
            "a key given twice in one section", kind="duplicate", line=exc.lineno
        ) from None
    except configparser.Error as exc:
        raise ConfigError(f"invalid INI ({type(exc).__name__})") from None
    result: dict[str, dict[str, str]] = {}
    if parser.defaults():
        result[parser.default_section] = dict(parser.defaults())
    for section in parser.sections():
        result[section] = dict(parser[section])
    return result


_PROPERTIES_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape_properties(text: str, line: int) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ConfigError("malformed \\uXXXX escape", line=line)
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_PROPERTIES_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


def _split_property(logical: str) -> tuple[str, str]:
    i = 0
    while i < len(logical):
        char = logical[i]
        if char == "\\":
            i += 2
            continue
        if char in "=: \t\f":
            break
        i += 1
    key, rest = logical[:i], logical[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


def parse_properties(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Java ``.properties``: UTF-8 (as Java 9+ resource bundles), ISO-8859-1 if not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    result: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i + 1
        logical = lines[i].lstrip(" \t\f")
        i += 1
        if not logical or logical[0] in "#!":
            continue
        # A line ending in an odd number of backslashes continues on the next one.
        while (len(logical) - len(logical.rstrip("\\"))) % 2 == 1:
            logical = logical[:-1] + (lines[i].lstrip(" \t\f") if i < len(lines) else "")
            i += 1
        key, value = _split_property(logical)
        result[_unescape_properties(key, start)] = _unescape_properties(value, start)
    return result


_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """``KEY=value`` lines as docker and python-dotenv read them: quotes, ``export``, comments."""
    text = decode_utf8(data)
    result: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _DOTENV_KEY.fullmatch(key):
            raise ConfigError("expected KEY=value", line=number, column=1)
        value = value.lstrip()
        quote = value[:1]
        if quote in ("'", '"'):
            body = value[1:]
            # A quoted value may span lines until its closing quote.
            while not _closes(body, quote):
                if i >= len(lines):
                    raise ConfigError(f"unterminated {quote} quote", line=number)
                body += "\n" + lines[i]
                i += 1
            end = _closing_index(body, quote)
            inner, trailing = body[:end], body[end + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                raise ConfigError("unexpected text after the closing quote", line=number)
            result[key] = inner if quote == "'" else _unescape_double(inner)
        else:
            comment = re.search(r"\s#", value)
            result[key] = (value[: comment.start()] if comment else value).rstrip()
    return result


def _closing_index(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if quote == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _closes(body: str, quote: str) -> bool:
    return _closing_index(body, quote) >= 0


def _unescape_double(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _DOUBLE_QUOTE_ESCAPES.get(m.group(1), m.group(0)), text)


def parse_text(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    return decode_utf8(data)


def parse_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    return data


def parse_auto(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """For a file of no known format: its text if it is UTF-8, else its bytes (keystores, DER)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


FORMATS: Mapping[str, _LimitedParser] = {
    "yaml": parse_yaml,
    "json": parse_json,
    "toml": parse_toml,
    "ini": parse_ini,
    "properties": parse_properties,
    "dotenv": parse_dotenv,
    "text": parse_text,
    "bytes": parse_bytes,
    "auto": parse_auto,
}

EXTENSIONS: Mapping[str, str] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".properties": "properties",
    ".env": "dotenv",
    ".txt": "text",
}


def format_for(name: str) -> str:
    """The format a file's name implies: by extension; ``.env`` and ``*.env`` are dotenv."""
    base = name.rsplit("/", 1)[-1].lower()
    if base == ".env":
        return "dotenv"
    dot = base.rfind(".")
    return EXTENSIONS.get(base[dot:], "auto") if dot > 0 else "auto"


def check_format(format: str | None) -> None:
    """ValueError for a format name kubereload does not know: a mistake in the calling code."""
    if format is not None and format not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown format {format!r}; known formats: {known}")


def parse(
    name: str,
    data: bytes,
    format: str | None = None,
    parser: Parser | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Parse one file's bytes within ``limits``: the one parse step every entry point uses.

    ``format`` names a built-in format (else the file's extension decides); ``parser`` is the
    caller's own ``bytes -> value`` function instead. Every failure is a :class:`ConfigError`
    naming the file, with the line and column where known and a message in our own words;
    an unknown ``format`` is a ValueError (a mistake in the calling code, not in the config).
    """
    check_format(format)
    if len(data) > limits.max_file_bytes:
        raise ConfigError(
            f"{len(data)} bytes, over the limit of {limits.max_file_bytes} (max_file_bytes)",
            kind="too-large",
            file=name,
        )
    chosen = format or format_for(name)
    error: ConfigError
    try:
        if parser is not None:
            return parser(data)
        return FORMATS[chosen](data, limits)
    except ConfigError as exc:
        error = exc.in_file(name)
    except RecursionError:
        error = _too_deep(limits).in_file(name)
    except Exception as exc:
        # The exception's text is dropped: it may quote the data.
        if parser is not None:
            what = getattr(parser, "__name__", type(parser).__name__)
            error = ConfigError(
                f"the parser {what} raised {type(exc).__name__}", kind="parser", file=name
            )
        else:
            error = ConfigError(f"invalid {chosen} ({type(exc).__name__})", file=name)
    raise error  # outside the handler, so no __context__ carries the original text

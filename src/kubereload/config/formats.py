"""Parsers for the formats ConfigMaps carry, chosen by file extension or by name.

Each parser takes bytes and returns plain Python data, or raises :class:`ConfigError` with the
line and column where the format's parser gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from kubereload.config.errors import ConfigError

Parser = Callable[[bytes], Any]

_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise ConfigError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            line=line,
            column=column,
        ) from None


def parse_yaml(data: bytes) -> Any:
    text = decode_utf8(data)
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parts = [p for p in (exc.context, exc.problem) if p]
        raise ConfigError(
            "; ".join(parts) or "invalid YAML",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML ({type(exc).__name__})") from None


def parse_json(data: bytes) -> Any:
    text = decode_utf8(data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(exc.msg, line=exc.lineno, column=exc.colno) from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")


def parse_toml(data: bytes) -> Any:
    import tomllib  # noqa: PLC0415 - loaded when a TOML file is first met

    text = decode_utf8(data)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        found = _TOML_POSITION.search(message)
        line = column = None
        if found and found.group(1):
            line, column = int(found.group(1)), int(found.group(2))
        elif found:
            line = text.count("\n") + 1
        raise ConfigError(
            _TOML_POSITION.sub("", message) or "invalid TOML", line=line, column=column
        ) from None


def parse_ini(data: bytes) -> Any:
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
        raise ConfigError(f"duplicate section [{exc.section}]", line=exc.lineno) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(
            f"duplicate key {exc.option!r} in [{exc.section}]", line=exc.lineno
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


def parse_properties(data: bytes) -> Any:
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


def parse_dotenv(data: bytes) -> Any:
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


def parse_text(data: bytes) -> Any:
    return decode_utf8(data)


def parse_bytes(data: bytes) -> Any:
    return data


def parse_auto(data: bytes) -> Any:
    """For a file of no known format: its text if it is UTF-8, else its bytes (keystores, DER)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


FORMATS: Mapping[str, Parser] = {
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


def parser_for(name: str, format: str | None = None, parser: Parser | None = None) -> Parser:
    if parser is not None:
        return parser
    chosen = format or format_for(name)
    try:
        return FORMATS[chosen]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown format {chosen!r}; known formats: {known}") from None


def parse(name: str, data: bytes, format: str | None = None, parser: Parser | None = None) -> Any:
    """Parse one file's bytes; errors name the file."""
    chosen = parser_for(name, format, parser)
    try:
        return chosen(data)
    except ConfigError as exc:
        raise exc.in_file(name) from None
    except Exception as exc:
        if parser is None:
            raise
        raise ConfigError(f"custom parser failed: {type(exc).__name__}: {exc}", file=name) from exc

"""Label selectors as flags give them, checked before they reach the API server.

Reloader's ``--namespace-selector`` and ``--resource-label-selector`` take ``key:value`` pairs
in a comma list (``key:*`` meaning "has the label"); kubectl's syntax (``key=value``, ``!=``,
``in (a,b)``, ``notin``, ``key``, ``!key``) works too. A selector the API server would reject
with a 400 on every list is one clear error at start instead.
"""

from __future__ import annotations

import re

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses (``in (a,b)`` holds commas)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _check_key(key: str, requirement: str) -> None:
    if not _KEY.match(key) or len(key.rpartition("/")[0]) > 253:
        raise ValueError(f"{requirement!r}: {key!r} is not a label key")


def _check_value(value: str, requirement: str) -> None:
    if not _VALUE.match(value):
        raise ValueError(f"{requirement!r}: {value!r} is not a label value")


def _requirement(part: str) -> str:
    """One requirement in the API server's syntax; ValueError naming it when it is not one."""
    if not part:
        raise ValueError("an empty requirement (two commas in a row, or a trailing comma)")
    given = part
    if (
        ":" in part
        and not _SET.match(part)
        and "=" not in part
        and part.count(":") == 1
        and not part.startswith("!")
    ):
        key, _, value = (s.strip() for s in part.partition(":"))
        part = key if value == "*" else f"{key}={value}"
    if match := _SET.match(part):
        _check_key(match["key"], given)
        values = [v.strip() for v in match["values"].split(",")]
        for value in values:
            _check_value(value, given)
        return f"{match['key']} {match['op']} ({','.join(values)})"
    if match := _EQUALITY.match(part):
        _check_key(match["key"], given)
        _check_value(match["value"], given)
        return f"{match['key']}{match['op']}{match['value']}"
    key = part[1:].strip() if part.startswith("!") else part
    if re.search(r"[\s=()]", key):
        raise ValueError(
            f"{given!r} is not a requirement (key:value, key=value, key!=value, "
            "key in (a,b), key notin (a,b), key, !key)"
        )
    _check_key(key, given)
    return f"!{key}" if part.startswith("!") else key


def label_selector(text: str) -> str:
    """The API server's form of a selector given as flags give it (Reloader's ``key:value``
    pairs or kubectl's syntax); ValueError saying which requirement is wrong and why."""
    return ",".join(_requirement(part) for part in _split(text.strip()))

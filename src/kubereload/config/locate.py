"""Finding the line and column of a validation error's location in a YAML or JSON document.

Parsers give positions for syntax errors; a schema error (``port: "eighty"``) only has a path
(``("server", "port")``). Composing the document again, on the error path only, maps that path
back to the node's line and column, so the user is told where to look.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def locate(data: bytes, path: Sequence[str | int]) -> tuple[int, int] | None:
    """1-based (line, column) of the deepest node on ``path`` that exists, or None."""
    try:
        node = yaml.compose(data.decode("utf-8"), Loader=_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    if node is None:
        return None
    for step in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            child = node.value[step]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1

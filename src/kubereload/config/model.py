"""Validating parsed data with the app's model (pydantic, or any callable), in our own words.

Shared by the library's loader and by admission/check, so a model's verdict on a config is the
same wherever it is judged. A pydantic error is reported by its path and message (the input value
left out) with the line and column of the offending node; anything else by its type only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubereload.config.errors import ConfigError
from kubereload.config.locate import locate

Validator = Callable[[Any], Any]


def validate_with(
    model: Validator, data: Any, files: Mapping[str, bytes], *, directory: bool
) -> Any:
    """``model.model_validate(data)`` (or ``model(data)``); a failure becomes a ConfigError.

    ``files`` are the raw bytes ``data`` came from (a directory's files by name, or one file),
    used to name the file and find the line of a problem.
    """
    validate = getattr(model, "model_validate", model)
    try:
        return validate(data)
    except ConfigError:
        raise
    except Exception as exc:
        raise explain(exc, files, directory=directory) from None


def explain(exc: Exception, files: Mapping[str, bytes], *, directory: bool) -> ConfigError:
    errors = getattr(exc, "errors", None)
    file: str | None
    if not callable(errors) or type(exc).__name__ != "ValidationError":
        file = None if directory else next(iter(files))
        return ConfigError(f"validation failed: {type(exc).__name__}: {exc}", file=file)
    # pydantic: report the first problem by its path, never echoing the input value.
    found = errors(include_input=False, include_url=False, include_context=False)
    loc = list(found[0]["loc"]) if found else []
    message = found[0]["msg"] if found else "invalid"
    if directory and loc and str(loc[0]) in files:
        file = str(loc.pop(0))
    elif directory:
        file = None
    else:
        file = next(iter(files))
    path = ".".join(str(p) for p in loc)
    text = f"{path}: {message}" if path else message
    if len(found) > 1:
        text += f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''})"
    line = column = None
    if file is not None and loc:
        where = locate(files[file], loc)
        if where:
            line, column = where
    return ConfigError(text, file=file, line=line, column=column)

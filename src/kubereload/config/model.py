"""Validating parsed data with the app's model (pydantic, or any callable), in our own words.

Shared by the library's loader and by admission/check, so a model's verdict on a config is the
same wherever it is judged. A validator's own text can quote the input (pydantic's ``msg`` does,
and so does ``int("hunter2")``), so none of it is kept: a pydantic error is reported by its field
path, its error type in our words and the model's own bounds, with the line and column of the
offending node; any other callable's by the exception's type only. To give your own words, raise
:class:`~kubereload.ConfigError` from the validator.
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
    used to name the file and find the line of a problem (give ``b""`` for a file whose format
    is not YAML or JSON: positions are found by composing YAML).
    """
    validate = getattr(model, "model_validate", model)
    error: ConfigError
    try:
        return validate(data)
    except ConfigError as err:  # the validator's own words: place it at its field
        error = _placed(err, files, directory=directory)
    except RecursionError:
        error = ConfigError("too deeply nested for the model", kind="validation")
    except Exception as exc:
        error = explain(exc, files, directory=directory, model=model)
    if error.file is None and not directory and files:
        error = error.in_file(next(iter(files)))
    raise error  # outside the handler: no __context__ holding the validator's text


def explain(
    exc: Exception,
    files: Mapping[str, bytes],
    *,
    directory: bool,
    model: Validator | None = None,
) -> ConfigError:
    errors = getattr(exc, "errors", None)
    if not callable(errors) or type(exc).__name__ != "ValidationError":
        what = getattr(model, "__name__", type(model).__name__) if model else "the model"
        return ConfigError(f"rejected by {what} ({type(exc).__name__})", kind="validation")
    found = errors(include_input=False, include_url=False)
    loc: list[str | int] = list(found[0]["loc"]) if found else []
    kind = str(found[0]["type"]) if found else ""
    message = _words(kind, found[0].get("ctx") or {}) if found else "invalid"
    if len(found) > 1:
        message += f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''})"
    return _placed(ConfigError(message, kind="validation", path=loc), files, directory=directory)


def _placed(error: ConfigError, files: Mapping[str, bytes], *, directory: bool) -> ConfigError:
    """``error`` with its file, line and column found from its field path, where it lacks them.

    For a directory the path starts with the file's name (``{file name: parsed}``)."""
    if error.line is not None:
        return error
    loc = list(error.path)
    file = error.file
    if directory and loc and str(loc[0]) in files:
        file = str(loc.pop(0))
    elif not directory and files and file is None:
        file = next(iter(files))
    line = column = None
    if file is not None and file in files and loc and files[file]:
        where = locate(files[file], loc)
        if where:
            line, column = where
    return ConfigError(error.detail, kind=error.kind, file=file, line=line, column=column, path=loc)


# pydantic's error types, in our words (its messages can quote the input).
_WORDS = {
    "missing": "required, but missing",
    "extra_forbidden": "not a known field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "bytes_type": "must be bytes",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "literal_error": "not one of the allowed values",
    "enum": "not one of the allowed values",
    "union_tag_invalid": "not one of the allowed kinds",
    "union_tag_not_found": "the field that says which kind is missing",
    "greater_than": "too small",
    "greater_than_equal": "too small",
    "less_than": "too large",
    "less_than_equal": "too large",
    "too_short": "too short",
    "too_long": "too long",
    "string_too_short": "too short",
    "string_too_long": "too long",
    "string_pattern_mismatch": "does not match the required pattern",
    "url_parsing": "not a valid URL",
    "url_scheme": "a URL with a scheme that is not allowed",
    "value_error": "rejected by a validator",
    "assertion_error": "rejected by a validator",
    "json_invalid": "not valid JSON",
    "recursion_loop": "too deeply nested for the model",
}
# Bounds in an error's context come from the model, never from the input: safe to show.
_BOUNDS = {
    "greater_than": ("gt", "must be greater than {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than": ("lt", "must be less than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "too_short": ("min_length", "must have at least {} items"),
    "too_long": ("max_length", "must have at most {} items"),
    "string_too_short": ("min_length", "must be at least {} characters long"),
    "string_too_long": ("max_length", "must be at most {} characters long"),
}


def _words(kind: str, context: Mapping[str, Any]) -> str:
    bound = _BOUNDS.get(kind)
    if bound is not None:
        value = context.get(bound[0])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return bound[1].format(value)
    return _WORDS.get(kind, f"invalid ({kind})" if kind else "invalid")

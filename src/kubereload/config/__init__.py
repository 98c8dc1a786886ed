"""Config values: formats, limits, validation, and the live store that swaps them."""

from kubereload.config.diff import changed_keys
from kubereload.config.errors import KINDS, ConfigError
from kubereload.config.formats import FORMATS, Parser, check_format, format_for, parse
from kubereload.config.limits import DEFAULT_LIMITS, Limits
from kubereload.config.source import FileSource, Source
from kubereload.config.store import MISSING, Config, build_loader

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "KINDS",
    "MISSING",
    "Config",
    "ConfigError",
    "FileSource",
    "Limits",
    "Parser",
    "Source",
    "build_loader",
    "changed_keys",
    "check_format",
    "format_for",
    "parse",
]

"""Config values: formats, validation, and the live store that swaps them."""

from kubereload.config.diff import changed_keys
from kubereload.config.errors import ConfigError
from kubereload.config.formats import FORMATS, Parser, format_for, parse
from kubereload.config.source import FileSource, Source
from kubereload.config.store import MISSING, Config, build_loader

__all__ = [
    "FORMATS",
    "MISSING",
    "Config",
    "ConfigError",
    "FileSource",
    "Parser",
    "Source",
    "build_loader",
    "changed_keys",
    "format_for",
    "parse",
]

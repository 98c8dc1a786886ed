"""The error every rejected config carries: where (file, line, column) and what.

Messages are built from the parser's description of the problem and its position only, never
from the offending text: a Secret's value must not reach a log line through a parse error.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A config that could not be read, parsed or validated. Positions are 1-based."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.version: str | None = None
        """The version that was rejected, when the error is about one."""

    def where(self) -> str:
        parts = [self.file or "<config>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        if self.file is None and self.line is None:
            return self.message
        return f"{self.where()}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ConfigError({self.message!r}, file={self.file!r}, line={self.line!r}, "
            f"column={self.column!r})"
        )

    def in_file(self, file: str) -> ConfigError:
        """The same error, attributed to ``file`` (parsers do not know the file's name)."""
        return ConfigError(self.message, file=file, line=self.line, column=self.column)

"""The error every rejected config carries: what kind of problem, and where.

A config may be a Secret, so an error is built from a fixed vocabulary only: a kind, our own
words, the file, the line and column, and the field path. It never holds text a parser or a
validator produced from the input (such text can quote a value), and it is raised with no
``__cause__`` or ``__context__`` that could.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubereload.volume.paths import printable

KINDS = frozenset(
    {
        "encoding",  # not valid UTF-8
        "syntax",  # the format's grammar
        "tag",  # a YAML tag kubereload does not construct, or a value that does not fit its tag
        "too-large",  # a file or volume over its size limit
        "too-deep",  # nesting over the depth limit
        "too-many-aliases",  # YAML aliases that would expand past the limit
        "duplicate",  # a key or section given twice
        "validation",  # the model rejected the parsed data
        "parser",  # the caller's own parser failed
        "unreadable",  # the source could not be read
        "outside-volume",  # a symbolic link that leaves the volume (or any, in a kubelet one)
        "not-a-file",  # a directory where a file was expected (or the reverse), a FIFO, a device
    }
)


class ConfigError(Exception):
    """A config that could not be read, parsed or validated. Positions are 1-based.

    ``kind`` is one of :data:`KINDS`; ``path`` is the field path inside the document (keys and
    list indices), when the problem is at a known field. ``message`` is the text to show: the
    field path (when there is one) and ``detail``, the words for the problem itself.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "syntax",
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: Sequence[str | int] = (),
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ConfigError kind {kind!r}")
        self.detail = message
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.path: tuple[str | int, ...] = tuple(path)
        self.message = f"{self.field()}: {message}" if self.path else message
        super().__init__(self.message)
        self.version: str | None = None
        """The version that was rejected, when the error is about one."""

    def where(self) -> str:
        parts = [printable(self.file) if self.file else "<config>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def field(self) -> str:
        """The field path as ``server.ports[0].name`` (empty when not at a field)."""
        text = ""
        for step in self.path:
            name = printable(str(step))
            text += f"[{step}]" if isinstance(step, int) else (f".{name}" if text else name)
        return text

    def __str__(self) -> str:
        if self.file is None and self.line is None:
            return self.message
        return f"{self.where()}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ConfigError({self.detail!r}, kind={self.kind!r}, file={self.file!r}, "
            f"line={self.line!r}, column={self.column!r}, path={self.path!r})"
        )

    def in_file(self, file: str) -> ConfigError:
        """The same error, attributed to ``file`` (parsers do not know the file's name)."""
        return ConfigError(
            self.detail,
            kind=self.kind,
            file=file,
            line=self.line,
            column=self.column,
            path=self.path,
        )

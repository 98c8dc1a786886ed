"""Bounds on what one config may cost to read and parse, checked before and while parsing.

Volume contents are not trusted: a 414-byte YAML document of nested aliases expands to
billions of nodes in whatever walks it (a validator, ``==``, ``json.dumps``), and a file of
hundreds of megabytes costs gigabytes once parsed. Every watch has limits; the defaults fit
anything a ConfigMap or Secret can hold and refuse a bomb in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubereload.volume import ReadLimits

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one watch accepts. All are positive integers; pass your own to ``watch(limits=...)``.

    - ``max_file_bytes``: one file (one key). The API server refuses a ConfigMap or Secret whose
      data passes 1 MiB, so no key of a real one is bigger.
    - ``max_volume_bytes``: all files of a directory watch together. A projected volume can
      combine several ConfigMaps and Secrets; 8 MiB holds eight full ones.
    - ``max_files``: files in a directory watch (a ConfigMap rarely has more than a few hundred
      keys; a directory with millions would take minutes to read each time).
    - ``max_depth``: nesting of mappings and lists, in every format (Helm values rarely pass 15;
      100 keeps every parser and validator far from Python's recursion limit).
    - ``max_yaml_alias_nodes``: how many nodes YAML aliases may add to a document once expanded.
      A few merges of a defaults block add hundreds; an alias bomb adds billions.
    """

    max_file_bytes: int = 1 * MiB
    max_volume_bytes: int = 8 * MiB
    max_files: int = 4096
    max_depth: int = 100
    max_yaml_alias_nodes: int = 100_000

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer")

    def for_reading(self) -> ReadLimits:
        """The part the volume reader enforces (sizes and counts, before anything is parsed)."""
        return ReadLimits(
            max_file_bytes=self.max_file_bytes,
            max_volume_bytes=self.max_volume_bytes,
            max_files=self.max_files,
        )


DEFAULT_LIMITS = Limits()

__all__ = ["DEFAULT_LIMITS", "Limits"]

"""ConfigMaps and Secrets: their kind, spelled once, and their data decoded once.

Every package that reads the bytes of a ConfigMap or Secret (``sync`` writing files, ``rollout``
hashing them, ``admission``/``check`` judging them) decodes through :func:`decode_data`, so they
agree on what a pod would see.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubereload.kube.resources import CONFIGMAPS, SECRETS, Resource


class DataKind(StrEnum):
    """The two kinds that hold configuration, spelled as the API spells them."""

    CONFIGMAP = "ConfigMap"
    SECRET = "Secret"  # noqa: S105 (a kind name, not a password)

    @property
    def resource(self) -> Resource:
        return CONFIGMAPS if self is DataKind.CONFIGMAP else SECRETS

    @property
    def label(self) -> str:
        """Lower case, as ``sync`` writes it in directory names and change descriptions."""
        return self.value.lower()

    @classmethod
    def parse(cls, text: str) -> DataKind:
        """``configmap``/``ConfigMap``/``secret``... (as on a command line); ValueError if
        neither."""
        for kind in cls:
            if text.lower() == kind.lower():
                return kind
        raise ValueError(f"{text!r} is neither configmap nor secret")


@dataclass(frozen=True, slots=True)
class DecodedData:
    """The bytes of each key as a pod sees them, and the keys that could not be decoded.

    ``invalid`` names each key left out because its base64 was malformed; :meth:`problems`
    says so in our own words, never quoting the value (it may be a Secret's).
    """

    values: dict[str, bytes]
    invalid: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        return [invalid_base64(key) for key in self.invalid]


def invalid_base64(key: str) -> str:
    """The message for a key whose base64 value does not decode: names the key, not the value."""
    return f"key {key!r}: value is not valid base64"


def decode_data(kind: DataKind, obj: Mapping[str, Any]) -> DecodedData:
    """Decode a ConfigMap's or Secret's keys into the bytes a pod would read.

    - ConfigMap: ``data`` values are text (stored as UTF-8), ``binaryData`` values base64.
    - Secret: ``data`` values are base64. ``stringData`` is write-only: the API server merges
      it into ``data`` on a write (a ``stringData`` key wins over the same ``data`` key) and
      never returns it, so only a manifest (``kubereload check``) carries it; it is merged
      here the same way, so a manifest decodes to what the applied Secret will hold.
    - A base64 value that does not decode leaves that one key out and names it in
      ``invalid``; every other key still decodes.
    """
    values: dict[str, bytes] = {}
    invalid: dict[str, None] = {}  # ordered set
    for field, encoded in _FIELDS[kind]:
        entries = obj.get(field)
        if not isinstance(entries, Mapping):
            continue
        for name, value in entries.items():
            key = str(name)
            invalid.pop(key, None)  # a later field's value replaces an earlier one
            if not encoded:
                values[key] = str(value).encode()
                continue
            try:
                values[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                values.pop(key, None)
                invalid[key] = None
    return DecodedData(values, tuple(invalid))


# (field, base64-encoded), in the order the API server applies them: later ones win.
_FIELDS: dict[DataKind, tuple[tuple[str, bool], ...]] = {
    DataKind.CONFIGMAP: (("data", False), ("binaryData", True)),
    DataKind.SECRET: (("data", True), ("stringData", False)),
}

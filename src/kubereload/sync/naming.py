"""Where each object's files go when one ``sync`` writes several objects.

One named object: its keys are the files of ``--dir`` itself, as in a volume. Otherwise (several
named objects, or a ``--selector``, whose matches come and go) each object gets its own
subdirectory of ``--dir``, with its own ``..data`` so that readers of one object see one atomic
swap: ``<namespace>_<name>``, or ``<kind>_<namespace>_<name>`` (kind ``configmap`` or
``secret``) when both kinds are synced. Namespaces and object names are DNS names: they never
contain ``_`` or ``/`` and never start with ``.``, so the name is unambiguous and stays inside
``--dir``; anything else is refused.
"""

from __future__ import annotations

import re

from kubereload.kube.data import DataKind

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def subdirectory(kind: DataKind, namespace: str, name: str, *, with_kind: bool) -> str:
    for what, value in (("namespace", namespace), ("name", name)):
        if not _DNS_SUBDOMAIN.match(value):
            raise ValueError(f"{kind.label} {namespace}/{name}: {what} {value!r} is not a DNS name")
    base = f"{namespace}_{name}"
    return f"{kind.label}_{base}" if with_kind else base

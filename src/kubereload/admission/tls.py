"""The webhook's serving certificate, re-read when its files change: rotation without a restart.

cert-manager (or ``--self-signed``) renews the certificate by updating a Secret; the kubelet
swaps the mounted files. Each new connection first asks :meth:`CertificateFiles.context`, which
looks at the files' identity at most once a second and, if they changed, loads them into a fresh
TLS context; connections already open keep the one they began with. A pair that does not load
(the key and certificate from two different versions, mid-update) keeps the last good context.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)
CHECK_INTERVAL = 1.0  # seconds between looks at the files


class CertificateError(Exception):
    """The certificate or key cannot be loaded (and no earlier one is at hand)."""


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()  # follows the kubelet's ..data symlinks to the current version
    return st.st_ino, st.st_mtime_ns, st.st_size


def not_after(cert_file: Path) -> float | None:
    """The certificate's expiry as Unix time (None if it cannot be read)."""
    try:
        from cryptography import x509  # noqa: PLC0415 - the admission extra

        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except Exception:  # unreadable, or cryptography absent: no figure rather than no server
        return None
    when: datetime = cert.not_valid_after_utc
    return when.timestamp()


class CertificateFiles:
    """A certificate chain and key on disk, as a TLS server context that follows them."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        on_load: Callable[[CertificateFiles], None] | None = None,
    ) -> None:
        self.cert_file = cert_file
        self.on_load = on_load
        self.key_file = key_file
        self._lock = threading.Lock()
        self._checked = 0.0
        self._identity: tuple[object, ...] | None = None
        self._context: ssl.SSLContext | None = None
        self.loads = 0
        self.not_after: float | None = None
        self._reload(force=True)
        if self._context is None:
            raise CertificateError(f"cannot load the certificate {cert_file} and key {key_file}")

    def context(self) -> ssl.SSLContext:
        now = time.monotonic()
        if now - self._checked >= CHECK_INTERVAL:
            with self._lock:
                if now - self._checked >= CHECK_INTERVAL:
                    self._checked = now
                    self._reload(force=False)
        assert self._context is not None
        return self._context

    def _reload(self, *, force: bool) -> None:
        try:
            identity = (_identity(self.cert_file), _identity(self.key_file))
        except OSError as exc:
            log.warning("certificate files unreadable (%s); keeping the current ones", exc.strerror)
            return
        if not force and identity == self._identity:
            return
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            log.warning(
                "certificate %s and key %s do not load (%s); keeping the current ones",
                self.cert_file,
                self.key_file,
                type(exc).__name__,
            )
            return
        first = self._context is None
        self._context, self._identity = context, identity
        self.loads += 1
        self.not_after = not_after(self.cert_file)
        if self.on_load is not None:
            self.on_load(self)
        if not first:
            log.info("serving certificate reloaded from %s", self.cert_file)

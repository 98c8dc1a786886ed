"""A self-signed certificate for 127.0.0.1, made once per process with the openssl CLI.

client-go (kubectl) sends credentials only over TLS, so a server that checks tokens must
speak HTTPS to kubectl.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path


@functools.cache
def certificate() -> tuple[Path, Path]:
    """(certificate, key) PEM files, removed when the process exits."""
    if shutil.which("openssl") is None:
        raise RuntimeError("TLS needs the openssl command (Debian package openssl)")
    folder = Path(tempfile.mkdtemp(prefix="kubeapi-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context() -> ssl.SSLContext:
    cert, key = certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context

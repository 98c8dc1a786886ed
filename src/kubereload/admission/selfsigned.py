"""``--self-signed``: a CA and serving certificate of our own, shared by the replicas, and the
CA written into the ValidatingWebhookConfiguration's ``caBundle``.

For clusters without cert-manager. The CA and the certificate live in one Secret in the webhook's
namespace: the first replica to start creates it (a create that loses the race reads the
winner's), so every replica serves the same certificate and one ``caBundle`` trusts them all.
The certificate is issued again from the same CA when two thirds of its life have passed; the CA
(10 years) does not change, so the ``caBundle`` stays valid throughout.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubereload.kube import (
    SECRETS,
    ApiError,
    Cluster,
    ConflictError,
    KubeClient,
    Resource,
    async_client,
)

log = logging.getLogger(__name__)

WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    namespaced=False,
)
CA_DAYS = 3650
CERT_DAYS = 365


@dataclass(frozen=True)
class Issued:
    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes

    def secret_data(self) -> dict[str, str]:
        pairs = {
            "ca.crt": self.ca_cert,
            "ca.key": self.ca_key,
            "tls.crt": self.cert,
            "tls.key": self.key,
        }
        return {k: base64.b64encode(v).decode() for k, v in pairs.items()}

    @classmethod
    def from_secret(cls, obj: dict[str, Any]) -> Issued | None:
        data = obj.get("data") or {}
        try:
            parts = [base64.b64decode(data[k]) for k in ("ca.crt", "ca.key", "tls.crt", "tls.key")]
        except (KeyError, ValueError):
            return None
        return cls(*parts)


def hosts_for(service: str, namespace: str, extra: Sequence[str] = ()) -> list[str]:
    """The names the API server may use to reach the Service, plus ``extra`` (names or IPs)."""
    return [
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        f"{service}.{namespace}",
        *extra,
    ]


def _san(hosts: Sequence[str]) -> Any:
    from cryptography import x509  # noqa: PLC0415 - the admission extra

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def issue(hosts: Sequence[str], ca: Issued | None = None, *, days: int = CERT_DAYS) -> Issued:
    """A serving certificate for ``hosts``, signed by ``ca``'s CA (a new CA if None)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubereload-admission-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        ca = Issued(ca_cert.public_bytes(serialization.Encoding.PEM), _pem_key(ca_key), b"", b"")
    ca_cert = x509.load_pem_x509_certificate(ca.ca_cert)
    signer: Any = serialization.load_pem_private_key(ca.ca_key, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return Issued(
        ca.ca_cert, ca.ca_key, cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)
    )


def needs_renewal(issued: Issued, hosts: Sequence[str], now: float | None = None) -> bool:
    """True when the certificate does not cover ``hosts`` or two thirds of its life are gone."""
    from cryptography import x509  # noqa: PLC0415

    try:
        cert = x509.load_pem_x509_certificate(issued.cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return True
    covered = {str(n) for n in names.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in names.get_values_for_type(x509.IPAddress)
    }
    if not set(hosts) <= covered:
        return True
    start = cert.not_valid_before_utc.timestamp()
    end = cert.not_valid_after_utc.timestamp()
    moment = datetime.datetime.now(datetime.UTC).timestamp() if now is None else now
    return moment >= start + (end - start) * 2 / 3


def write_files(issued: Issued, directory: Path) -> tuple[Path, Path]:
    """``tls.crt`` and ``tls.key`` in ``directory`` (owner-only), each replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = []
    for name, data in (("tls.crt", issued.cert), ("tls.key", issued.key)):
        target = directory / name
        if target.is_file() and target.read_bytes() == data:
            paths.append(target)
            continue
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
        paths.append(target)
    return paths[0], paths[1]


class SelfSigned:
    """Gets (or makes) the shared certificate, keeps it fresh, and keeps ``caBundle`` current."""

    def __init__(
        self,
        config: Cluster,
        *,
        namespace: str,
        secret: str,
        webhook_configuration: str,
        hosts: Sequence[str],
        directory: Path,
    ) -> None:
        self.config = config
        self.namespace, self.secret = namespace, secret
        self.webhook_configuration = webhook_configuration
        self.hosts = list(hosts)
        self.directory = directory

    def ensure(self) -> tuple[Path, Path]:
        """Make sure the Secret holds a good certificate, the files hold it and the webhook
        configuration trusts its CA. Returns (cert file, key file)."""
        return asyncio.run(self._ensure())

    async def _ensure(self) -> tuple[Path, Path]:
        async with async_client(self.config) as client:
            issued = await self._certificate(client)
            await self._write_ca_bundle(client, issued.ca_cert)
        return write_files(issued, self.directory)

    async def _certificate(self, client: KubeClient) -> Issued:
        for _ in range(5):
            obj = await client.get(SECRETS, self.namespace, self.secret)
            if obj is None:
                issued = issue(self.hosts)
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": self.secret, "namespace": self.namespace},
                    "type": "Opaque",
                    "data": issued.secret_data(),
                }
                try:
                    await client.create(SECRETS, self.namespace, body)
                except ConflictError:
                    continue  # another replica was first: use its certificate
                log.info(
                    "created the CA and certificate in Secret %s/%s", self.namespace, self.secret
                )
                return issued
            current = Issued.from_secret(obj)
            if current is not None and not needs_renewal(current, self.hosts):
                return current
            issued = issue(self.hosts, current)  # same CA when there is one: caBundle holds
            obj["data"] = issued.secret_data()
            try:  # resourceVersion kept: a lost race is a conflict
                await client.replace(SECRETS, self.namespace, self.secret, obj)
            except ConflictError:
                continue
            log.info("renewed the certificate in Secret %s/%s", self.namespace, self.secret)
            return issued
        raise ApiError(409, "Conflict", "the certificate Secret kept changing under us")

    async def _write_ca_bundle(self, client: KubeClient, ca_cert: bytes) -> None:
        name = self.webhook_configuration
        bundle = base64.b64encode(ca_cert).decode()
        for _ in range(5):
            obj = await client.get(WEBHOOK_CONFIGURATIONS, "", name)
            if obj is None:
                log.warning(
                    "ValidatingWebhookConfiguration %s does not exist yet: its caBundle is "
                    "written at the next check",
                    name,
                )
                return
            webhooks = obj.get("webhooks") or []
            if all((w.get("clientConfig") or {}).get("caBundle") == bundle for w in webhooks):
                return
            for webhook in webhooks:
                webhook.setdefault("clientConfig", {})["caBundle"] = bundle
            try:
                await client.replace(WEBHOOK_CONFIGURATIONS, "", name, obj)
            except ConflictError:
                continue
            log.info("wrote the CA into %s's caBundle", self.webhook_configuration)
            return
        raise ApiError(409, "Conflict", "the webhook configuration kept changing under us")

"""--self-signed's certificates: what they cover, when they are renewed, how they are written."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from kubereload.admission.selfsigned import Issued, hosts_for, issue, needs_renewal, write_files


def test_certificate_covers_the_service_names_and_verifies_against_its_ca(tmp_path: Path) -> None:
    hosts = hosts_for("kubereload-admission", "kubereload", ["127.0.0.1"])
    issued = issue(hosts)
    cert = x509.load_pem_x509_certificate(issued.cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubereload-admission.kubereload.svc" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    cert_file, key_file = write_files(issued, tmp_path / "certs")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)  # the key matches the certificate
    (tmp_path / "ca.crt").write_bytes(issued.ca_cert)
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    assert client.cert_store_stats()["x509_ca"] == 1


def test_renewal_keeps_the_ca_and_happens_after_two_thirds_of_the_life() -> None:
    hosts = ["a.example", "127.0.0.1"]
    issued = issue(hosts)
    assert not needs_renewal(issued, hosts)
    assert needs_renewal(issued, [*hosts, "b.example"])  # a name it does not cover
    cert = x509.load_pem_x509_certificate(issued.cert)
    start = cert.not_valid_before_utc.timestamp()
    end = cert.not_valid_after_utc.timestamp()
    assert not needs_renewal(issued, hosts, now=start + (end - start) * 0.6)
    assert needs_renewal(issued, hosts, now=start + (end - start) * 0.7)
    renewed = issue(hosts, issued)
    assert renewed.ca_cert == issued.ca_cert and renewed.ca_key == issued.ca_key
    assert renewed.cert != issued.cert
    again = Issued.from_secret({"data": renewed.secret_data()})
    assert again == renewed
    assert Issued.from_secret({"data": {"tls.crt": "eA=="}}) is None


def test_rewriting_the_same_files_leaves_them_alone(tmp_path: Path) -> None:
    issued = issue(["127.0.0.1"])
    cert_file, _ = write_files(issued, tmp_path)
    before = cert_file.stat().st_ino
    write_files(issued, tmp_path)
    assert cert_file.stat().st_ino == before  # unchanged: the server does not reload for nothing

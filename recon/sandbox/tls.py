"""A local test CA, the server certificate for 127.0.0.1/localhost, and the app's client certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_FROM = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_VALID_TO = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the generated PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_pem: Path  # the app's certificate followed by its private key


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "recon sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_VALID_FROM)
        .not_valid_after(_VALID_TO)
    )


def generate(directory: Path, client_name: str = "recon-sandbox-app") -> TlsFiles:
    """Write a CA, a server certificate (SAN 127.0.0.1, ::1, localhost) and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("recon sandbox test CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    server = (
        _builder(_name("127.0.0.1"), ca_name, server_key.public_key())
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = _key()
    client = (
        _builder(_name(client_name), ca_name, client_key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
        directory / "app-client.pem",
    )
    files.ca_cert.write_bytes(ca.public_bytes(pem))
    files.server_cert.write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    files.server_key.write_bytes(_pem_key(server_key))
    files.server_key.chmod(0o600)
    files.client_pem.write_bytes(client.public_bytes(pem) + _pem_key(client_key))
    files.client_pem.chmod(0o600)
    return files


def ensure(directory: Path) -> TlsFiles:
    """The TLS files under `directory`, generated once and reused by later starts."""
    files = TlsFiles(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
        directory / "app-client.pem",
    )
    if all(p.exists() for p in (files.ca_cert, files.server_cert, files.server_key, files.client_pem)):
        return files
    return generate(directory)


def load_client_certificate(client_pem: Path) -> x509.Certificate:
    """The app certificate stored first in the client PEM."""
    return x509.load_pem_x509_certificate(client_pem.read_bytes())

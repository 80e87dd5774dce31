"""The SP's signing/encryption key and certificate: generate them, load them, check them."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sso_bridge.errors import ConfigError

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class SpCredentials:
    certificate_pem: str
    days_to_expiry: float

    @property
    def certificate_base64(self) -> str:
        """The certificate as python3-saml wants it: base64 without PEM armour."""
        lines = self.certificate_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))


def generate(key_path: Path, cert_path: Path, *, common_name: str, bits: int = 3072,
             days: int = 730, organization: str = "", force: bool = False) -> None:
    """Write a new RSA key (mode 0600) and a self-signed SHA-256 certificate (0644: public)."""
    for path in (key_path, cert_path):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write(key_path, key_pem, mode=0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Write through a temporary file created with ``mode``, so no moment is more open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_credentials(cert_path: Path, key_pem: str, *, cert_key: str = "sp.certificate_file",
                     key_name: str = "SSO_BRIDGE_SP_KEY") -> SpCredentials:
    """Load the SP certificate and check the private key belongs to it; ConfigError otherwise."""
    problems: list[str] = []
    cert = None
    try:
        cert_pem = cert_path.read_text(encoding="ascii")
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except OSError as exc:
        problems.append(f"'{cert_key}': cannot read {cert_path}: {exc.strerror}")
    except ValueError as exc:
        problems.append(f"'{cert_key}': {cert_path} is not a PEM certificate: {exc}")
    key = None
    if key_pem:
        try:
            key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            problems.append(f"{key_name}: not an unencrypted PEM private key ({exc})")
    if cert is not None and key is not None and _public(cert.public_key()) != _public(
            key.public_key()):
        problems.append(f"{key_name}: the SP private key does not match the certificate "
                        f"{cert_path}")
    if problems:
        raise ConfigError(problems)
    assert cert is not None
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return SpCredentials(certificate_pem=cert_pem, days_to_expiry=remaining.total_seconds() / 86400)


def _public(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

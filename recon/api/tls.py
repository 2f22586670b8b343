"""Trust: the system CAs plus `RECON_CA_BUNDLE`, for httpx and for msal's requests session."""

from __future__ import annotations

import hashlib
import ssl
import tempfile
from pathlib import Path

import requests


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """An SSL context trusting the system store and, if given, an extra CA file."""
    ctx = ssl.create_default_context()
    if ca_bundle is not None:
        ctx.load_verify_locations(cafile=str(ca_bundle))
    return ctx


def combined_bundle(ca_bundle: Path) -> Path:
    """A PEM file holding the system CAs and the extra CA (requests takes a single path)."""
    system = ssl.get_default_verify_paths().cafile
    parts = [Path(system).read_bytes()] if system and Path(system).exists() else []
    parts.append(ca_bundle.read_bytes())
    data = b"\n".join(parts)
    digest = hashlib.sha256(data).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"recon-ca-{digest}.pem"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
    return out


def requests_session(ca_bundle: Path | None) -> requests.Session:
    """A requests session for msal that honours RECON_CA_BUNDLE even where REQUESTS_CA_BUNDLE is set."""
    session = requests.Session()
    if ca_bundle is not None:
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override `verify` unless trust_env is off.
        session.trust_env = False
        session.verify = str(combined_bundle(ca_bundle))
    return session

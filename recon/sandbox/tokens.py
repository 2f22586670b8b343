"""Issued access tokens, pending device codes, and verification of certificate client assertions."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@dataclass
class Token:
    """An issued access token: who holds it, for which resource and scopes, until when (monotonic)."""

    value: str
    app_id: str
    tenant: str
    resource: str
    scopes: list[str]
    expires_at: float
    user: str | None = None
    calls: int = 0
    serial: int = 0  # issue order, for reproducible token-expiry faults


@dataclass
class TokenStore:
    """Issued tokens and pending device codes (real monotonic time decides expiry)."""

    tokens: dict[str, Token] = field(default_factory=dict)
    device_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # value -> app id and user

    def issue(
        self,
        app_id: str,
        tenant: str,
        resource: str,
        scopes: list[str],
        lifetime_s: int,
        user: str | None = None,
    ) -> Token:
        """A new random access token."""
        token = Token(secrets.token_urlsafe(48), app_id, tenant, resource, scopes, time.monotonic() + lifetime_s, user)
        token.serial = len(self.tokens) + 1
        self.tokens[token.value] = token
        return token

    def check(self, header: str | None, resource: str) -> tuple[Token | None, str]:
        """The token of an Authorization header for `resource`, or None and why it is refused."""
        if not header or not header.lower().startswith("bearer "):
            return None, "The request has no bearer token."
        token = self.tokens.get(header[7:].strip())
        if token is None:
            return None, "The bearer token is not valid."
        if time.monotonic() >= token.expires_at:
            return None, "The bearer token has expired."
        if token.resource != resource:
            return None, f"The bearer token is for {token.resource}, not {resource}."
        token.calls += 1
        return token, ""


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    """Encode base64url without padding (JWT style)."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def verify_client_assertion(
    assertion: str, cert: x509.Certificate, client_id: str, audiences: set[str], now: float | None = None
) -> str | None:
    """None when the JWT is signed by the app certificate with the right claims, else the reason."""
    try:
        head_b64, body_b64, sig_b64 = assertion.split(".")
        header = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(body_b64))
        signature = b64url_decode(sig_b64)
    except ValueError:
        return "AADSTS50027: the client assertion is not a well-formed JWT."
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return "AADSTS700027: the registered certificate has no RSA key."
    signed = f"{head_b64}.{body_b64}".encode()
    pads = {
        "RS256": padding.PKCS1v15(),
        "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
    }
    if header.get("alg") not in pads:
        return f"AADSTS700027: algorithm {header.get('alg')!r} is not supported."
    der = cert.public_bytes(serialization.Encoding.DER)
    for name, digest in (("x5t#S256", hashlib.sha256), ("x5t", hashlib.sha1)):
        if name in header and header[name].rstrip("=") != b64url(digest(der).digest()):
            return "AADSTS700027: the certificate thumbprint is not registered for this application."
    try:
        key.verify(signature, signed, pads[header["alg"]], hashes.SHA256())
    except InvalidSignature:
        return "AADSTS700027: the client assertion's signature does not verify."
    now = time.time() if now is None else now
    if claims.get("aud") not in audiences:
        return f"AADSTS700212: the assertion's audience {claims.get('aud')!r} is not this token endpoint."
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "AADSTS700021: the assertion's iss and sub must be the application id."
    if float(claims.get("exp", 0)) < now - 300 or float(claims.get("nbf", 0)) > now + 300:
        return "AADSTS700024: the client assertion is not within its valid time range."
    return None

"""msal token acquisition and an httpx.Auth that adds the bearer and refreshes once on 401."""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from recon.api.redact import redact, register_secret
from recon.api.tls import requests_session
from recon.errors import SettingsError, UpstreamError
from recon.settings import Settings

_MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")


def certificate_credential(pem_path: Path) -> dict[str, str]:
    """msal's certificate credential from a PEM holding the certificate and its private key."""
    try:
        data = pem_path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"RECON_CLIENT_CERT: cannot read {pem_path}: {exc.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise SettingsError(f"RECON_CLIENT_CERT: {pem_path} needs a PEM certificate and private key ({exc})") from None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "private_key": key_pem,
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - the x5t header is SHA-1 by spec
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


class TokenProvider:
    """One long-lived msal application per scope; its cache avoids a token request per call."""

    def __init__(self, settings: Settings, scope: str) -> None:
        if not settings.client_id or not settings.authority:
            raise SettingsError("no app registration: set RECON_TENANT_ID and RECON_CLIENT_ID (or RECON_SANDBOX)")
        credential: Any
        if settings.client_cert is not None:
            credential = certificate_credential(settings.client_cert)
        elif settings.client_secret is not None:
            credential = settings.client_secret.get()
            register_secret(credential)
        else:
            raise SettingsError("no credential: set RECON_CLIENT_SECRET or RECON_CLIENT_CERT")
        host = urlparse(settings.authority).hostname or ""
        self.scope = scope
        self._lock = threading.Lock()
        self._app = msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=credential,
            authority=settings.authority,
            instance_discovery=host in _MICROSOFT_HOSTS,
            http_client=requests_session(settings.ca_bundle),
        )

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token for the scope (a new one when `force_refresh`)."""
        with self._lock:
            try:
                if force_refresh:
                    cache = self._app.token_cache
                    for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                        cache.remove_at(entry)
                result = self._app.acquire_token_for_client([self.scope])
            except (ValueError, OSError) as exc:
                raise UpstreamError(f"token request failed: {redact(str(exc).splitlines()[0])}") from None
        if "access_token" not in result:
            desc = str(result.get("error_description", "")).splitlines()[0] if result.get("error_description") else ""
            raise UpstreamError(redact(f"token request failed: {result.get('error', 'unknown error')}: {desc}"))
        token = str(result["access_token"])
        register_secret(token)
        return token


class BearerAuth(httpx.Auth):
    """Adds `Authorization: Bearer`; on a 401 refreshes the token once and resends."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.provider.token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.provider.token(force_refresh=True)}"
            yield request

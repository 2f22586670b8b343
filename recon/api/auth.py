"""msal token acquisition and an httpx.Auth that adds the bearer and refreshes once on 401."""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from recon.api.redact import redact, register_secret
from recon.api.retry import RetryableError, RetryPolicy
from recon.api.tls import requests_session
from recon.errors import SettingsError, UpstreamError
from recon.settings import Settings

_MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")
# msal remembers a 429/5xx answer for its Retry-After (5 s when absent) and replays it until then.
_MSAL_THROTTLE_S = 5.0
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


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

    def __init__(self, settings: Settings, scope: str, policy: RetryPolicy | None = None) -> None:
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
        self.scope = scope
        self.policy = policy or RetryPolicy()
        self._settings = settings
        self._credential = credential
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        """The msal application, created once (its constructor fetches the authority's metadata)."""
        if self._app is None:
            settings = self._settings
            host = urlparse(settings.authority).hostname or ""
            try:
                self._app = msal.ConfidentialClientApplication(
                    settings.client_id,
                    client_credential=self._credential,
                    authority=settings.authority,
                    instance_discovery=host in _MICROSOFT_HOSTS,
                    http_client=requests_session(settings.ca_bundle),
                )
            except requests.RequestException as exc:
                raise RetryableError(f"authority {settings.authority}: {type(exc).__name__}") from None
            except ValueError as exc:
                raise UpstreamError(redact(f"authority {settings.authority}: {str(exc).splitlines()[0]}")) from None
        return self._app

    def _acquire(self) -> dict[str, Any]:
        app = self._application()
        try:
            result: dict[str, Any] = app.acquire_token_for_client([self.scope])
        except msal.exceptions.MsalServiceError as exc:
            raise RetryableError(f"token endpoint: {exc}", _MSAL_THROTTLE_S) from None
        except requests.RequestException as exc:
            raise RetryableError(f"token endpoint: {type(exc).__name__}") from None
        if "access_token" not in result and (not result.get("error") or result.get("error") in _TRANSIENT_ERRORS):
            raise RetryableError(f"token endpoint: {result.get('error') or 'throttled'}", _MSAL_THROTTLE_S)
        return result

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token for the scope (a new one when `force_refresh`)."""
        with self._lock:
            if force_refresh and self._app is not None:
                cache = self._app.token_cache
                for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    cache.remove_at(entry)
            try:
                result = self.policy.call(self._acquire)
            except RetryableError as exc:
                raise UpstreamError(redact(f"token request failed: {exc} — gave up after retries")) from None
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

"""msal token acquisition (app-only, or app+user from a device-code sign-in) and an httpx.Auth that adds the bearer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from recon.api.redact import install_log_redaction, redact, register_secret
from recon.api.retry import RetryableError, RetryPolicy
from recon.api.tls import requests_session
from recon.api.token_cache import LOGIN_HINT, TokenCacheFile, new_token_cache, open_token_cache
from recon.errors import SettingsError, UpstreamError
from recon.settings import Settings

_MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")
# msal remembers a 429/5xx answer for its Retry-After and replays it until then; without one, for 5 s in a
# confidential client and 60 s in a public one (user mode), so waiting less only burns attempts.
_MSAL_THROTTLE_S = 5.0
_PUBLIC_THROTTLE_S = 60.0
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


def user_scope(settings: Settings, scope: str) -> str:
    """The delegated scope an app+user token asks for in place of an app-only `/.default` scope."""
    if not scope.endswith("/.default"):
        return scope
    permission = "PartnerBilling.Read.All" if scope == settings.graph_scope else "user_impersonation"
    return f"{scope.removesuffix('/.default')}/{permission}"


def _app_credential(settings: Settings) -> Any:
    """The app-only credential: a certificate credential or the client secret."""
    if settings.client_cert is not None:
        return certificate_credential(settings.client_cert)
    if settings.client_secret is not None:
        secret = settings.client_secret.get()
        register_secret(secret)
        return secret
    raise SettingsError("no credential: set RECON_CLIENT_SECRET or RECON_CLIENT_CERT (or RECON_AUTH_MODE=user)")


def cache_path(settings: Settings) -> Path:
    """The token cache file of the signed-in user."""
    return settings.token_cache or settings.data_dir / "token_cache.json"


def _require_app(settings: Settings) -> tuple[str, str]:
    if not settings.client_id or not settings.authority:
        raise SettingsError("no app registration: set RECON_TENANT_ID and RECON_CLIENT_ID (or RECON_SANDBOX)")
    return settings.client_id, settings.authority


def _new_app(settings: Settings, credential: Any, cache: msal.TokenCache | None) -> Any:
    """An msal application: confidential with a credential (app-only), public without one (app+user)."""
    client_id, authority = _require_app(settings)
    host = urlparse(authority).hostname or ""
    kind = msal.PublicClientApplication if credential is None else msal.ConfidentialClientApplication
    try:
        return kind(
            client_id,
            client_credential=credential,
            authority=authority,
            instance_discovery=host in _MICROSOFT_HOSTS,
            http_client=requests_session(settings.ca_bundle),
            token_cache=cache,
        )
    except requests.RequestException as exc:
        raise RetryableError(f"authority {authority}: {type(exc).__name__}") from None
    except ValueError as exc:
        raise UpstreamError(redact(f"authority {authority}: {str(exc).splitlines()[0]}")) from None


def _msal_call(call: Callable[[], Any], what: str, wait: float, expect: str = "access_token") -> Any:
    """Run one msal call; throttling, 5xx, transient errors and connection failures become RetryableError."""
    try:
        result = call()
    except msal.exceptions.MsalServiceError as exc:
        raise RetryableError(f"{what}: {exc}", wait) from None
    except requests.RequestException as exc:
        raise RetryableError(f"{what}: {type(exc).__name__}") from None
    if result is not None and expect not in result and result.get("error", "") in ("", *_TRANSIENT_ERRORS):
        raise RetryableError(f"{what}: {result.get('error') or 'throttled'}", wait)
    return result


def _error_text(result: dict[str, Any]) -> str:
    """`error: first line of error_description` of an msal error answer, redacted."""
    desc = str(result.get("error_description") or "").splitlines()
    return redact(f"{result.get('error', 'unknown error')}: {desc[0] if desc else ''}".rstrip(": "))


class TokenProvider:
    """One long-lived msal application per scope; its cache avoids a token request per call.

    In app mode it holds the app's credential; in user mode (`RECON_AUTH_MODE=user`) it redeems the
    refresh token of the user signed in by `recon auth login`, shared with every scope through the token cache file.
    """

    def __init__(self, settings: Settings, scope: str, policy: RetryPolicy | None = None) -> None:
        _require_app(settings)
        self.user_mode = settings.auth_mode == "user"
        self._cache: TokenCacheFile | None = None
        credential: Any = None
        if self.user_mode:
            self._cache = open_token_cache(cache_path(settings))
            scope = user_scope(settings, scope)
        else:
            credential = _app_credential(settings)
        self.scope = scope
        self.policy = policy or RetryPolicy()
        self._settings = settings
        self._credential = credential
        self._lock = threading.Lock()
        self._app: Any = None  # msal.PublicClientApplication (user mode) or ConfidentialClientApplication

    @property
    def username(self) -> str | None:
        """The signed-in user (user mode), else None."""
        return self._cache.username() if self._cache else None

    def _application(self) -> Any:
        """The msal application, created once (its constructor fetches the authority's metadata)."""
        if self._app is None:
            self._app = _new_app(self._settings, self._credential, self._cache.cache if self._cache else None)
        return self._app

    def _acquire(self, force_refresh: bool) -> dict[str, Any]:
        app = self._application()
        if self._cache is not None:
            return self._acquire_user(app, self._cache, force_refresh)
        return dict(_msal_call(lambda: app.acquire_token_for_client([self.scope]), "token endpoint", _MSAL_THROTTLE_S))

    def _acquire_user(self, app: Any, cache: TokenCacheFile, force_refresh: bool) -> dict[str, Any]:
        """A token from the cache, or redeemed with the cached refresh token; login problems say to sign in."""
        accounts = app.get_accounts()
        if not accounts:
            raise SettingsError(f"no signed-in user in {cache.path}: {LOGIN_HINT}")
        try:
            result = _msal_call(
                lambda: app.acquire_token_silent_with_error([self.scope], accounts[0], force_refresh=force_refresh),
                "token endpoint",
                _PUBLIC_THROTTLE_S,
            )
        finally:
            cache.save()
        user = accounts[0].get("username", "the user")
        if result is None:
            raise SettingsError(f"the sign-in of {user} holds no token for {self.scope}: {LOGIN_HINT}")
        if "access_token" not in result:
            raise SettingsError(f"the sign-in of {user} is no longer valid ({_error_text(result)}): {LOGIN_HINT}")
        return dict(result)

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token for the scope (a new one when `force_refresh`)."""
        with self._lock:
            if force_refresh and self._app is not None and not self.user_mode:
                cache = self._app.token_cache
                for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    cache.remove_at(entry)
            try:
                result = self.policy.call(lambda: self._acquire(force_refresh))
            except RetryableError as exc:
                raise UpstreamError(redact(f"token request failed: {exc} — gave up after retries")) from None
        if "access_token" not in result:
            raise UpstreamError(f"token request failed: {_error_text(result)}")
        token = str(result["access_token"])
        register_secret(token)
        return token


def device_login(settings: Settings, show: Callable[[str, str], None]) -> str:
    """Sign a user in with the device-code flow, keep the account in the token cache file; the user's name."""
    install_log_redaction()
    cache = new_token_cache(cache_path(settings))
    policy = RetryPolicy()
    scope = user_scope(settings, settings.pc_scope)
    try:
        app = policy.call(lambda: _new_app(settings, None, cache.cache))

        def start() -> Any:
            return _msal_call(lambda: app.initiate_device_flow([scope]), "device code", _PUBLIC_THROTTLE_S, "user_code")

        flow = policy.call(start)
        if "user_code" not in flow:
            raise UpstreamError(f"device code request failed: {_error_text(flow)}")
        show(str(flow["verification_uri"]), str(flow["user_code"]))

        def finish() -> Any:
            return _msal_call(lambda: app.acquire_token_by_device_flow(flow), "token endpoint", _PUBLIC_THROTTLE_S)

        result = policy.call(finish)
    except RetryableError as exc:
        raise UpstreamError(redact(f"sign-in failed: {exc} — gave up after retries")) from None
    if "access_token" not in result:
        raise UpstreamError(f"sign-in failed: {_error_text(result)}")
    register_secret(str(result["access_token"]))
    register_secret(result.get("refresh_token"))
    cache.save()
    return cache.username() or "(unknown user)"


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

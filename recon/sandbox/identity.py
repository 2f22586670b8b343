"""Entra-ID-like identity: OpenID discovery, client-credential and device-code tokens, bearer checks."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.jsonenc import dumps
from recon.sandbox.tokens import b64url, verify_client_assertion

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

PC_RESOURCE = "https://api.partnercenter.microsoft.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}


def _aad_error(state: SandboxState, status: int, error: str, code: int, text: str) -> Response:
    trace = secrets.token_hex(16)
    stamp = f"{state.today.isoformat()} 12:00:00Z"
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "error_uri": f"{state.base_url}/error?code={code}",
    }
    return Response(dumps(body), status, media_type="application/json; charset=utf-8")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        dumps(body),
        status,
        media_type="application/json; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _base(request: Request) -> str:
    return f"https://{request.headers.get('host', request.url.netloc)}"


def discovery(request: Request) -> Response:
    """OpenID configuration of the sandbox tenant (what msal reads to find its endpoints)."""
    state: SandboxState = request.app.state.sandbox
    tenant = request.path_params["tenant"]
    if tenant.lower() != state.tenant_id:
        return _aad_error(state, 400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
    root = f"{_base(request)}/{state.tenant_id}"
    return _json(
        {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "grant_types_supported": ["client_credentials", DEVICE_GRANT, "refresh_token"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid", "preferred_username"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
    )


def _resource_of(scopes: list[str]) -> tuple[str | None, list[str]]:
    """The single resource the requested scopes name, and those scopes (OIDC scopes dropped)."""
    wanted = [s for s in scopes if s not in _OIDC_SCOPES]
    resources = {s.rsplit("/", 1)[0] for s in wanted}
    if len(resources) != 1 or next(iter(resources)) not in (PC_RESOURCE, GRAPH_RESOURCE):
        return None, wanted
    return next(iter(resources)), wanted


async def token(request: Request) -> Response:
    """Token endpoint: client_credentials (secret or certificate assertion), device_code and refresh_token."""
    state: SandboxState = request.app.state.sandbox
    if request.path_params["tenant"].lower() != state.tenant_id:
        return _aad_error(state, 400, "invalid_request", 90002, "Tenant not found.")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        user, _, pwd = base64.b64decode(basic[6:]).decode().partition(":")
        form.setdefault("client_id", unquote(user))
        form.setdefault("client_secret", unquote(pwd))
    entry = request.scope.get("sandbox.log")
    if entry is not None:
        entry["form"] = {
            k: v for k, v in form.items() if k in ("grant_type", "client_id", "scope", "client_assertion_type")
        }
    grant = form.get("grant_type", "")
    if form.get("client_id", "").lower() != state.client_id:
        return _aad_error(
            state,
            401,
            "invalid_client",
            700016,
            f"Application with identifier '{form.get('client_id', '')}' was not found in the "
            f"directory '{state.tenant_id}'.",
        )
    if grant == "client_credentials":
        return _client_credentials(request, state, form)
    if grant == DEVICE_GRANT:
        return _device_token(state, form)
    if grant == "refresh_token":
        return _refresh_token(state, form)
    return _aad_error(state, 400, "unsupported_grant_type", 70003, f"The grant type '{grant}' is not supported.")


def _client_credentials(request: Request, state: SandboxState, form: dict[str, str]) -> Response:
    if "client_assertion" in form:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _aad_error(state, 400, "invalid_request", 700023, "Unsupported client_assertion_type.")
        endpoint = f"{_base(request)}/{request.path_params['tenant']}/oauth2/v2.0/token"
        audiences = {endpoint, f"{_base(request)}/{state.tenant_id}/oauth2/v2.0/token"}
        problem = verify_client_assertion(
            form["client_assertion"], state.client_certificate, state.client_id, audiences
        )
        if problem:
            code, _, text = problem.partition(": ")
            return _aad_error(state, 401, "invalid_client", int(code[6:]), text)
    elif not secrets.compare_digest(form.get("client_secret", ""), state.client_secret):
        return _aad_error(
            state,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID, for a secret added to app "
            f"'{state.client_id}'.",
        )
    scopes = form.get("scope", "").split()
    resource, wanted = _resource_of(scopes)
    if resource is None or wanted != [f"{resource}/.default"]:
        return _aad_error(
            state,
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope', '')} is not valid. Client credential "
            "flows must have a scope value with /.default suffixed to the resource identifier.",
        )
    lifetime = state.token_lifetime_s
    tok = state.tokens.issue(state.client_id, state.tenant_id, resource, wanted, lifetime)
    return _json(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": tok.value,
        }
    )


async def device_code(request: Request) -> Response:
    """Device authorization: the simulated partner user approves every code at once."""
    state: SandboxState = request.app.state.sandbox
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if form.get("client_id", "").lower() != state.client_id:
        return _aad_error(state, 400, "unauthorized_client", 700016, "Application not found.")
    resource, wanted = _resource_of(form.get("scope", "").split())
    if resource is None:
        return _aad_error(state, 400, "invalid_scope", 70011, f"The scope {form.get('scope', '')} is not valid.")
    code = secrets.token_urlsafe(32)
    user_code = secrets.token_hex(4).upper()
    state.tokens.device_codes[code] = {"resource": resource, "scopes": wanted, "user": state.user_upn}
    verify = f"{state.base_url}/devicelogin"
    return _json(
        {
            "device_code": code,
            "user_code": user_code,
            "verification_uri": verify,
            "expires_in": 900,
            "interval": 1,
            "message": f"To sign in, use a web browser to open the page {verify} and enter the code "
            f"{user_code} to authenticate.",
        }
    )


def _device_token(state: SandboxState, form: dict[str, str]) -> Response:
    pending = state.tokens.device_codes.pop(form.get("device_code", ""), None)
    if pending is None:
        return _aad_error(state, 400, "expired_token", 70020, "The provided device code has expired or is unknown.")
    return _user_tokens(state, pending["resource"], pending["scopes"], pending["user"])


def _refresh_token(state: SandboxState, form: dict[str, str]) -> Response:
    """A refresh token (from the device flow) redeemed for either resource, as Entra's multi-resource ones are."""
    held = state.tokens.refresh_tokens.get(form.get("refresh_token", ""))
    if held is None or held["app_id"] != state.client_id:
        return _aad_error(state, 400, "invalid_grant", 70000, "The provided refresh token is not valid or has expired.")
    resource, wanted = _resource_of(form.get("scope", "").split())
    if resource is None:
        return _aad_error(state, 400, "invalid_scope", 70011, f"The scope {form.get('scope', '')} is not valid.")
    return _user_tokens(state, resource, wanted, held["user"])


def _user_tokens(state: SandboxState, resource: str, scopes: list[str], user: str) -> Response:
    """Access, refresh and id token for the partner user (device-code and refresh-token grants)."""
    lifetime = state.token_lifetime_s
    tok = state.tokens.issue(state.client_id, state.tenant_id, resource, scopes, lifetime, user=user)
    refresh = secrets.token_urlsafe(48)
    state.tokens.refresh_tokens[refresh] = {"app_id": state.client_id, "user": user}
    now = int(time.time())
    claims = {
        "aud": state.client_id,
        "iss": f"{state.base_url}/{state.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "sub": state.user_oid,
        "oid": state.user_oid,
        "tid": state.tenant_id,
        "preferred_username": user,
        "name": "Sandbox Partner Admin",
        "ver": "2.0",
    }
    id_token = ".".join([b64url(b'{"alg":"none","typ":"JWT"}'), b64url(json.dumps(claims).encode()), ""])
    client_info = b64url(json.dumps({"uid": state.user_oid, "utid": state.tenant_id}).encode())
    return _json(
        {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": tok.value,
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": client_info,
        }
    )


ROUTES = [
    Route("/{tenant}/v2.0/.well-known/openid-configuration", discovery, methods=["GET"]),
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    Route("/{tenant}/oauth2/v2.0/devicecode", device_code, methods=["POST"]),
]

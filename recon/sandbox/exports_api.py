"""Graph v2 billing export routes (/v1.0/reports/partners/billing/...) and the blob route (/blobs/...)."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.exports import ExportRegistry, Operation, blob_bytes, sas_secret
from recon.sandbox.faults import route_family
from recon.sandbox.identity import GRAPH_RESOURCE
from recon.sandbox.responses import json_response

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState

_BASE = "/v1.0/reports/partners/billing"
_TYPES = "#microsoft.graph.partners.billing."
_ATTRIBUTE_SETS = ("full", "basic")


def registry(state: SandboxState) -> ExportRegistry:
    """The export registry of a running sandbox (created on first use, dropped by admin reset)."""
    reg = state.__dict__.get("exports_registry")
    if reg is None:
        reg = state.__dict__["exports_registry"] = ExportRegistry(sas_secret(state.settings.seed))
    return reg


def graph_error(
    state: SandboxState, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The Graph OData error body {error: {code, message, innerError}}."""
    inner = {"date": f"{state.today.isoformat()}T12:00:00", "request-id": secrets.token_hex(16)}
    return json_response({"error": {"code": code, "message": message, "innerError": inner}}, status, headers)


def _graph_base(request: Request) -> str:
    return f"https://{request.headers.get('host', request.url.netloc)}/v1.0"


def _authorised(request: Request) -> tuple[SandboxState, Response | None]:
    """The state, and a 401 unless the request carries a valid Microsoft Graph bearer token."""
    state: SandboxState = request.app.state.sandbox
    token, why = state.tokens.check(request.headers.get("authorization"), GRAPH_RESOURCE)
    if token is not None and state.faults.token_expired(route_family(request.url.path), token.serial, token.calls):
        token.expires_at, token, why = 0.0, None, "The bearer token has expired."
        request.scope.get("sandbox.log", {})["fault"] = "token-expiry"
    if token is None:
        headers = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com"'}
        return state, graph_error(state, 401, "InvalidAuthenticationToken", why or "Access token is empty.", headers)
    return state, None


async def _export(request: Request, kind: str) -> Response:
    state, denied = _authorised(request)
    if denied:
        return denied
    try:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return graph_error(state, 400, "BadRequest", "The request body must be a JSON object.")
    attribute_set = str(body.get("attributeSet", "full"))
    if attribute_set not in _ATTRIBUTE_SETS:
        return graph_error(state, 400, "BadRequest", f"attributeSet must be full or basic, not {attribute_set!r}.")
    if kind.startswith("billed"):
        unit = body.get("invoiceId")
        if not isinstance(unit, str) or not unit:
            return graph_error(state, 400, "BadRequest", "invoiceId is required.")
    else:
        currency, period = body.get("currencyCode"), body.get("billingPeriod")
        if not isinstance(currency, str) or not currency or period not in ("current", "last"):
            return graph_error(
                state, 400, "BadRequest", "currencyCode and billingPeriod (current or last) are required."
            )
        unit = f"{currency.upper()}/{period}"
    with state.lock:
        op = registry(state).create(state.world, kind, unit, attribute_set)
    if isinstance(op, str):
        return graph_error(state, 404, "NotFound", op)
    return Response(
        status_code=202, headers={"Location": f"{_graph_base(request)}/reports/partners/billing/operations/{op.id}"}
    )


async def billed_reconciliation(request: Request) -> Response:
    """POST .../reconciliation/billed/export {invoiceId, attributeSet}."""
    return await _export(request, "billed-reconciliation")


async def unbilled_reconciliation(request: Request) -> Response:
    """POST .../reconciliation/unbilled/export {currencyCode, billingPeriod, attributeSet}."""
    return await _export(request, "unbilled-reconciliation")


async def billed_usage(request: Request) -> Response:
    """POST .../usage/billed/export {invoiceId, attributeSet}."""
    return await _export(request, "billed-usage")


async def unbilled_usage(request: Request) -> Response:
    """POST .../usage/unbilled/export {currencyCode, billingPeriod, attributeSet}."""
    return await _export(request, "unbilled-usage")


def _gone(state: SandboxState) -> Response:
    return graph_error(state, 410, "Gone", "The operation has expired; submit a new export request.")


def operation(request: Request) -> Response:
    """GET .../operations/{id}: running (Retry-After) for `export_polls` polls, then succeeded or failed."""
    state, denied = _authorised(request)
    if denied:
        return denied
    reg = registry(state)
    op = reg.operations.get(request.path_params["operation_id"])
    if op is None:
        return graph_error(state, 404, "NotFound", f"Operation {request.path_params['operation_id']} was not found.")
    op.polls += 1
    if reg.expired(op):
        return _gone(state)
    sw = state.world.switches
    created = f"{op.world.today.isoformat()}T12:00:00Z"
    body: dict[str, Any] = {
        "@odata.context": f"{_graph_base(request)}/$metadata#reports/partners/billing/operations/$entity",
        "id": op.id,
        "createdDateTime": created,
        "lastActionDateTime": f"{op.world.today.isoformat()}T12:00:{min(op.polls, 59):02d}Z",
    }
    if op.polls <= int(sw["export_polls"]):
        body.update({"@odata.type": _TYPES + "runningOperation", "status": "running"})
        return json_response(body, headers={"Retry-After": sw["export_retry_after_s"]})
    if op.failure is not None:
        body.update(
            {
                "@odata.type": _TYPES + "failedOperation",
                "status": "failed",
                "error": {"code": "5000", "message": op.failure},
            }
        )
        return json_response(body)
    body.update({"@odata.type": _TYPES + "exportSuccessOperation", "status": "succeeded"})
    if sw["manifest"] == "link":
        body["resourceLocation@odata.navigationLink"] = (
            f"{_graph_base(request)}/reports/partners/billing/manifests/{op.manifest_id}"
        )
    else:
        body["resourceLocation"] = _manifest(request, state, op)
    return json_response(body)


def _manifest(request: Request, state: SandboxState, op: Operation) -> dict[str, Any]:
    base = f"https://{request.headers.get('host', request.url.netloc)}"
    body = {"@odata.type": _TYPES + "manifest", **registry(state).manifest(op, base, state.tenant_id)}
    return body


def manifest(request: Request) -> Response:
    """GET .../manifests/{id}: the manifest of a succeeded export."""
    state, denied = _authorised(request)
    if denied:
        return denied
    reg = registry(state)
    op = reg.manifests.get(request.path_params["manifest_id"])
    if op is None or op.failure is not None or op.polls <= int(state.world.switches["export_polls"]):
        return graph_error(state, 404, "NotFound", f"Manifest {request.path_params['manifest_id']} was not found.")
    if reg.expired(op):
        return _gone(state)
    return json_response(
        {
            "@odata.context": f"{_graph_base(request)}/$metadata#reports/partners/billing/manifests/$entity",
            **_manifest(request, state, op),
        }
    )


def _storage_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body.encode(), status, media_type="application/xml", headers={"x-ms-error-code": code})


def blob(request: Request) -> Response:
    """GET /blobs/{operation}/{path}: one gzip JSON-lines blob; the SAS `sig` must sign the directory."""
    state: SandboxState = request.app.state.sandbox
    reg = registry(state)
    op = reg.operations.get(request.path_params["operation_id"])
    name = request.path_params["path"].rsplit("/", 1)[-1]
    if op is None or name not in op.blob_names:
        return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
    query = request.query_params
    if not reg.check_sig(op, query.get("se", ""), query.get("sig", "")):
        return _storage_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the signature is correct.",
        )
    if reg.expired(op):
        return _storage_error(403, "AuthenticationFailed", "Signed expiry time has passed.")
    fault = request.scope.get("sandbox.fault")
    data = blob_bytes(op, op.blob_names.index(name), fault if fault in ("multigzip", "bom") else None)
    headers = {"x-ms-blob-type": "BlockBlob", "ETag": f'"0x{op.manifest_id[:8].upper()}"'}
    return Response(data, 200, media_type="application/octet-stream", headers=headers)


ROUTES = [
    Route(f"{_BASE}/reconciliation/billed/export", billed_reconciliation, methods=["POST"]),
    Route(f"{_BASE}/reconciliation/unbilled/export", unbilled_reconciliation, methods=["POST"]),
    Route(f"{_BASE}/usage/billed/export", billed_usage, methods=["POST"]),
    Route(f"{_BASE}/usage/unbilled/export", unbilled_usage, methods=["POST"]),
    Route(f"{_BASE}/operations/{{operation_id}}", operation, methods=["GET"]),
    Route(f"{_BASE}/manifests/{{manifest_id}}", manifest, methods=["GET"]),
    Route("/blobs/{operation_id}/{path:path}", blob, methods=["GET"]),
]

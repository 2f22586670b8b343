"""Commerce routes for customers, the catalog (products, SKUs, availabilities) and agreements, plus the
helpers every commerce route shares (view of the world, customer lookup, App+User checks, idempotent writes)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recon.sandbox.catalog import AVAILABILITIES, MARKETS, PRODUCTS, SYMBOLS, Availability, Product
from recon.sandbox.commerce_view import NCE, PUBLISHER, CommerceView, catalog_item_id
from recon.sandbox.jsonenc import dumps
from recon.sandbox.paging import PagingError, collection, link, lower_query, next_uri, relative
from recon.sandbox.population import Customer
from recon.sandbox.rand import det_code, det_guid, det_unit
from recon.sandbox.responses import JSON, json_response, pc_error

if TYPE_CHECKING:
    from recon.sandbox.state import SandboxState
    from recon.sandbox.tokens import Token

MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
MCA = "MicrosoftCustomerAgreement"
MCLOUD = "MicrosoftCloudAgreement"
CUSTOMER_PAGE = 500
_CITY = {
    "NL": ("Amsterdam", "", "1012 AB"),
    "DE": ("Berlin", "", "10115"),
    "BE": ("Brussel", "", "1000"),
    "FR": ("Paris", "", "75001"),
    "GB": ("London", "", "EC1A 1BB"),
    "US": ("Seattle", "WA", "98101"),
    "DK": ("København", "", "1050"),
    "CH": ("Zürich", "", "8001"),
}
VIEWS = (
    "azure",
    "azurereservations",
    "azurereservationsvm",
    "azurereservationssql",
    "azurereservationscosmosdb",
    "microsoftazure",
    "onlineservices",
    "software",
    "softwaresuselinux",
    "softwareperpetual",
    "softwaresubscriptions",
    "specializedoffers",
    "marketplacesaas",
)
SEGMENTS = ("commercial", "education", "government", "nonprofit")


# -- shared helpers --------------------------------------------------------------------------------------------------


def sandbox(request: Request) -> SandboxState:
    """The running sandbox's state."""
    return request.app.state.sandbox


def view_of(state: SandboxState) -> CommerceView:
    """The commerce view of the current world (built once per world)."""
    world = state.world
    cached = state.commerce.view_cache
    if cached is None or cached[0] != id(world):
        cached = state.commerce.view_cache = (id(world), CommerceView(world, state.commerce))
    view: CommerceView = cached[1]
    return view


def query(request: Request) -> dict[str, str]:
    """Query parameters with lower-case names."""
    return lower_query(list(request.query_params.multi_items()))


def self_uri(request: Request) -> str:
    """The request's relative uri (no /v1)."""
    return relative(request.url.path, request.url.query)


def the_customer(request: Request) -> tuple[CommerceView, Customer | None, Response | None]:
    """The view and the customer named by the path, or a 403/20002 answer."""
    view = view_of(sandbox(request))
    cid = request.path_params["customer_id"]
    cust = view.customer(cid)
    if cust is None:
        return view, None, pc_error(403, 20002, f"The partner has no commerce relationship with customer {cid}.")
    return view, cust, None


def token_of(request: Request) -> Token | None:
    """The bearer token the middleware accepted for this request."""
    token: Token | None = request.scope.get("sandbox.token")
    return token


def app_user_refusal(request: Request) -> Response | None:
    """403/900329 for an app-only token on an App+User-only route when switch app_user_only is on."""
    state = sandbox(request)
    token = token_of(request)
    if state.world.switches.get("app_user_only") == "on" and (token is None or token.user is None):
        return pc_error(403, 900329, "The resource does not support application-only authentication.")
    return None


def caller(request: Request) -> tuple[str, str]:
    """(user principal name, object id) of the caller; the application for app-only tokens."""
    state = sandbox(request)
    token = token_of(request)
    if token is not None and token.user:
        return token.user, state.user_oid
    return state.client_id, state.client_id


def lower_keys(value: Any) -> Any:
    """A JSON body with lower-case object keys (the service reads request keys case-insensitively)."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


Handler = Callable[[Request], Awaitable[Response]]


def idempotent(handler: Handler) -> Handler:
    """A write route whose answer is replayed for a retried request with the same MS-RequestId."""

    async def wrapped(request: Request) -> Response:
        state = sandbox(request)
        rid = request.headers.get("ms-requestid")
        key = (rid or "", request.method, request.url.path.lower())
        if rid and key in state.commerce.replies:
            status, body, headers = state.commerce.replies[key]
            return Response(body, status, media_type=JSON, headers=headers)
        resp = await handler(request)
        if rid:
            keep = {k: v for k, v in resp.headers.items() if k.lower() in ("location", "retry-after")}
            state.commerce.replies[key] = (resp.status_code, bytes(resp.body), keep)
        return resp

    wrapped.__doc__ = handler.__doc__
    return wrapped


async def json_body(request: Request) -> Any:
    """The request's JSON body (lower-case keys), or None when it is not JSON."""
    try:
        return lower_keys(json.loads(await request.body() or b"null"))
    except ValueError:
        return None


def bad_input(text: str) -> Response:
    """400 / 800002 (request input is invalid)."""
    return pc_error(400, 800002, text)


# -- customers -------------------------------------------------------------------------------------------------------


def customer_resource(state: SandboxState, cust: Customer, full: bool) -> dict[str, Any]:
    """The Customer resource; `full` adds what GET by id shows (billing profile, delegated access)."""
    seed = state.settings.seed
    profile: dict[str, Any] = {
        "tenantId": cust.id,
        "domain": cust.domain,
        "companyName": cust.name,
        "links": {"self": link(f"/customers/{cust.id}/profiles/company")},
        "attributes": {"objectType": "CustomerCompanyProfile"},
    }
    res: dict[str, Any] = {
        "id": cust.id,
        "commerceId": det_guid(seed, "commerce-id", cust.idx),
        "companyProfile": profile,
        "relationshipToPartner": "reseller",
    }
    if cust.reseller_mpn:
        res["associatedPartnerId"] = str(cust.reseller_mpn)
    if full:
        city, region, postal = _CITY.get(cust.country, ("", "", ""))
        address = {
            "country": cust.country,
            "region": region,
            "city": city,
            "state": region,
            "addressLine1": f"{det_code(3, seed, 'street', cust.idx)} Main Street {1 + cust.idx}",
            "addressLine2": "",
            "postalCode": postal,
            "firstName": "Billing",
            "middleName": "",
            "lastName": "Contact",
            "phoneNumber": f"0{100000000 + cust.idx}",
        }
        profile["address"] = address
        profile["email"] = f"billing@{cust.domain}"
        res["billingProfile"] = {
            "id": det_guid(seed, "billing-profile", cust.idx),
            "firstName": "Billing",
            "lastName": "Contact",
            "email": f"billing@{cust.domain}",
            "culture": "en-US",
            "language": "en",
            "companyName": cust.name,
            "defaultAddress": address,
            "links": {"self": link(f"/customers/{cust.id}/profiles/billing")},
            "attributes": {"objectType": "CustomerBillingProfile", "etag": det_code(12, seed, "etag", cust.idx)},
        }
        res["allowDelegatedAccess"] = True
        res["customDomains"] = []
    res["links"] = {"self": link(f"/customers/{cust.id}")}
    res["attributes"] = {"objectType": "Customer"}
    return res


def _customer_filter(raw: str) -> Callable[[Customer], bool]:
    try:
        spec = lower_keys(json.loads(raw))
        field, value, op = str(spec["field"]).lower(), str(spec["value"]).lower(), str(spec["operator"]).lower()
    except (ValueError, KeyError, TypeError) as exc:
        raise PagingError(f"filter {raw!r} is not a valid customer filter") from exc
    if op != "starts_with":
        raise PagingError("only the starts_with operator is supported for customer filters")
    if field == "companyname":
        return lambda c: c.name.lower().startswith(value)
    if field == "domain":
        return lambda c: c.domain.lower().startswith(value)
    if field in ("indirectreseller", "indirectcloudsolutionprovider"):
        return lambda c: str(c.reseller_mpn).startswith(value)
    raise PagingError(f"customers cannot be filtered by {spec['field']!r}")


def customers(request: Request) -> Response:
    """GET /v1/customers?size=N[&filter=...]: seek-paged with continuationToken and MS-ContinuationToken."""
    state = sandbox(request)
    view = view_of(state)
    items = list(request.query_params.multi_items())
    q = lower_query(items)
    try:
        raw = q.get("size", "")
        if raw and not raw.isdigit():
            raise PagingError(f"size must be a non-negative integer, not {raw!r}")
        size = min(int(raw), CUSTOMER_PAGE) if raw and int(raw) > 0 else CUSTOMER_PAGE
        chosen = view.world.customers
        if q.get("filter"):
            keep = _customer_filter(q["filter"])
            chosen = [c for c in chosen if keep(c)]
        seek = q.get("seekoperation", "").lower()
        if seek not in ("", "next"):
            raise PagingError(f"seekOperation {q['seekoperation']!r} is not supported; use Next")
        scope = f"customers|{q.get('filter', '')}|{size}"
        offset = state.codec.decode(scope, request.headers.get("ms-continuationtoken")) if seek else 0
    except PagingError as exc:
        return bad_input(str(exc))
    page = chosen[offset : offset + size]
    end = offset + len(page)
    token = state.codec.encode(scope, end) if end < len(chosen) else None
    nxt = link(next_uri(request.url.path, items), [{"key": "MS-ContinuationToken", "value": token}]) if token else None
    body = collection([customer_resource(state, c, False) for c in page], self_uri(request), nxt, token)
    return json_response(body)


def customer_by_id(request: Request) -> Response:
    """GET /v1/customers/{id}."""
    state = sandbox(request)
    _, cust, denied = the_customer(request)
    if cust is None:
        return pc_error(404, 600008, f"Customer {request.path_params['customer_id']} was not found.")
    return denied or json_response(customer_resource(state, cust, True))


# -- catalog ---------------------------------------------------------------------------------------------------------


def _country(request: Request, cust: Customer | None = None) -> tuple[str, Response | None]:
    if cust is not None:
        return cust.country, None
    country = query(request).get("country", "").upper()
    if len(country) != 2 or not country.isalpha():
        return "", bad_input("country (a two-letter ISO code) is required on catalog requests.")
    return country, None


def _segment_ok(request: Request) -> Response | None:
    seg = query(request).get("targetsegment", "").lower()
    if seg and seg not in SEGMENTS:
        return pc_error(403, 400030, f"The requested targetSegment {seg!r} is not allowed.")
    return None


def product_resource(p: Product, cc: str) -> dict[str, Any]:
    """The Product resource."""
    base = f"/products/{p.product_id}"
    return {
        "id": p.product_id,
        "title": p.product_name,
        "description": f"{p.product_name}: new-commerce license-based subscription.",
        "productType": dict(NCE),
        "isMicrosoftProduct": True,
        "publisherName": PUBLISHER,
        "links": {"skus": link(f"{base}/skus?country={cc}"), "self": link(f"{base}?country={cc}")},
        "attributes": {"objectType": "Product"},
    }


def _avails(p: Product) -> list[Availability]:
    return [a for a in AVAILABILITIES if a.product == p]


def sku_resource(p: Product, cc: str) -> dict[str, Any]:
    """The Sku resource (one SKU per product in this catalog)."""
    base = f"/products/{p.product_id}/skus/{p.sku_id}"
    cycles = sorted({a.plan for a in _avails(p)})
    return {
        "id": p.sku_id,
        "productId": p.product_id,
        "title": p.sku_name,
        "description": f"{p.sku_name} ({'Dynamics 365' if p.family == 'd365' else 'Microsoft 365'})",
        "minimumQuantity": 1,
        "maximumQuantity": 300,
        "isTrial": False,
        "supportedBillingCycles": cycles,
        "purchasePrerequisites": ["MicrosoftCloudAgreement"],  # as seen on NCE SKUs (commerce.md §8.2)
        "inventoryVariables": [],
        "provisioningVariables": [],
        "actions": ["Refund"],
        "dynamicAttributes": {
            "isMicrosoftProduct": True,
            "hasConstraints": False,
            "isAddon": False,
            "prerequisiteSkus": [],
            "isSoftwareAssuranceApplicable": False,
            "upgradeTargetOffers": [],
        },
        "attestationProperties": {"enforceAttestation": False, "attestationType": ""},
        "links": {"availabilities": link(f"{base}/availabilities?country={cc}"), "self": link(f"{base}?country={cc}")},
        "attributes": {"objectType": "Sku"},
    }


def term_id(av: Availability) -> str:
    """A 12-character lower-case term id."""
    return det_code(12, "term", av.availability_id, av.term, av.plan).lower()


def availability_resource(av: Availability, cc: str) -> dict[str, Any]:
    """The Availability resource: one availability per (term, billing plan), its `terms` naming that term."""
    p = av.product
    currency = MARKETS.get(cc, ("USD", 0))[0]
    tid = term_id(av)
    duration_text = {"P1M": "One-Month", "P1Y": "One-Year", "P3Y": "Three-Year"}[av.term]
    refunds = [
        {"sequenceId": 0, "type": "Full", "expiresAfter": "P1D"},
        {"sequenceId": 1, "type": "Partial", "expiresAfter": "P7D"},
    ]
    return {
        "id": av.availability_id,
        "productId": p.product_id,
        "skuId": p.sku_id,
        "catalogItemId": catalog_item_id(av),
        "defaultCurrency": {"code": currency, "symbol": SYMBOLS.get(str(currency), str(currency))},
        "segment": "commercial",
        "country": cc,
        "isPurchasable": True,
        "isRenewable": True,
        "renewalInstructions": [
            {
                "applicableTermIds": [tid],
                "renewalOptions": [{"renewToId": f"{p.product_id}:{p.sku_id}", "isAutoRenewable": True}],
            }
        ],
        "terms": [
            {
                "id": tid,
                "duration": av.term,
                "description": av.term_and_billing_cycle,
                "billingCycle": av.plan.capitalize(),
                "renewalOptions": [{"termDuration": av.term, "description": f"{duration_text} renewal"}],
                "cancellationPolicies": [{"refundOptions": refunds}],
            }
        ],
        "links": {
            "self": link(f"/products/{p.product_id}/skus/{p.sku_id}/availabilities/{av.availability_id}?country={cc}")
        },
        "attributes": {"objectType": "Availability"},
    }


def _product(pid: str) -> Product | None:
    for p in PRODUCTS:
        if p.product_id == pid.upper():
            return p
    return None


def _catalog_target(request: Request) -> tuple[str, Product | None, Response | None]:
    cust = None
    if "customer_id" in request.path_params:
        _, cust, denied = the_customer(request)
        if denied:
            return "", None, denied
    cc, bad = _country(request, cust)
    if bad:
        return "", None, bad
    bad = _segment_ok(request)
    if bad:
        return "", None, bad
    if "product_id" not in request.path_params:
        return cc, None, None
    p = _product(request.path_params["product_id"])
    if p is None:
        return cc, None, pc_error(404, 400013, f"Product {request.path_params['product_id']} was not found.")
    if "sku_id" in request.path_params and request.path_params["sku_id"] != p.sku_id:
        return cc, None, pc_error(404, 400018, f"Sku {request.path_params['sku_id']} was not found.")
    return cc, p, None


def products(request: Request) -> Response:
    """GET /v1/products?country=CC&targetView=OnlineServices[&targetSegment=]."""
    cc, _, bad = _catalog_target(request)
    if bad:
        return bad
    view = query(request).get("targetview", "").lower()
    if view not in VIEWS:
        return pc_error(403, 400036, f"The requested targetView {view!r} is not allowed.")
    seg = query(request).get("targetsegment", "commercial").lower()
    items = [product_resource(p, cc) for p in PRODUCTS] if view == "onlineservices" and seg == "commercial" else []
    return json_response(collection(items, self_uri(request)))


def product(request: Request) -> Response:
    """GET /v1/products/{productId}?country=CC."""
    cc, p, bad = _catalog_target(request)
    if bad or p is None:
        return bad or bad_input("a product id is required")
    return json_response(product_resource(p, cc))


def skus(request: Request) -> Response:
    """GET /v1/products/{productId}/skus?country=CC."""
    cc, p, bad = _catalog_target(request)
    if bad or p is None:
        return bad or bad_input("a product id is required")
    return json_response(collection([sku_resource(p, cc)], self_uri(request)))


def sku(request: Request) -> Response:
    """GET /v1/products/{productId}/skus/{skuId}?country=CC."""
    cc, p, bad = _catalog_target(request)
    if bad or p is None:
        return bad or bad_input("a product id is required")
    return json_response(sku_resource(p, cc))


def availabilities(request: Request) -> Response:
    """GET /v1/products/{productId}/skus/{skuId}/availabilities?country=CC (nonprofit only when asked)."""
    cc, p, bad = _catalog_target(request)
    if bad:
        return bad
    assert p is not None
    seg = query(request).get("targetsegment", "commercial").lower()
    items = [availability_resource(a, cc) for a in _avails(p)] if seg == "commercial" else []
    return json_response(collection(items, self_uri(request)))


def availability(request: Request) -> Response:
    """GET /v1/products/{productId}/skus/{skuId}/availabilities/{availabilityId}?country=CC."""
    cc, p, bad = _catalog_target(request)
    if bad:
        return bad
    assert p is not None
    wanted = request.path_params["availability_id"].upper()
    for a in _avails(p):
        if a.availability_id == wanted:
            return json_response(availability_resource(a, cc))
    return pc_error(404, 400019, f"Availability {wanted} was not found.")


# -- agreements ------------------------------------------------------------------------------------------------------


def agreement_link(kind: str) -> str:
    """Where the agreement text lives."""
    return "https://aka.ms/customeragreement" if kind == MCA else "https://aka.ms/microsoftcloudagreement"


def metadata(request: Request) -> Response:
    """GET /v1/agreements?agreementType=...: agreement templates (App+User only)."""
    refused = app_user_refusal(request)
    if refused:
        return refused
    kind = query(request).get("agreementtype", MCLOUD)
    state = sandbox(request)
    known = [
        {"templateId": MCA_TEMPLATE, "agreementType": MCA, "agreementLink": agreement_link(MCA), "versionRank": 0},
        {
            "templateId": det_guid(state.settings.seed, "mcloud-template"),
            "agreementType": MCLOUD,
            "agreementLink": agreement_link(MCLOUD),
            "versionRank": 0,
        },
    ]
    items = [
        dict(m, attributes={"objectType": "AgreementMetaData"})
        for m in known
        if kind == "*" or str(m["agreementType"]).lower() == kind.lower()
    ]
    return json_response(collection(items, self_uri(request)))


def seeded_agreements(state: SandboxState, cust: Customer) -> list[dict[str, Any]]:
    """The customer's confirmed agreements: most customers confirmed the MCA before the world began; about one in
    five (at least one customer per world) has not, so a purchase for it fails with 13605 until one is posted."""
    seed = state.settings.seed
    customers = state.world.customers
    laggard = min(customers, key=lambda c: det_unit(seed, "mca", c.idx)).idx if customers else -1
    out: list[dict[str, Any]] = []
    if det_unit(seed, "mca", cust.idx) >= 0.2 and cust.idx != laggard:
        first = min((s.start for s in state.world.subs if s.customer == cust.idx), default=state.today)
        out.append(
            {
                "primaryContact": {
                    "firstName": "Admin",
                    "lastName": cust.name.split()[0],
                    "email": f"admin@{cust.domain}",
                    "phoneNumber": f"0{200000000 + cust.idx}",
                },
                "templateId": MCA_TEMPLATE,
                "dateAgreed": f"{first.isoformat()}T00:00:00Z",
                "type": MCA,
                "agreementLink": agreement_link(MCA),
                "userId": state.user_oid,
                "attributes": {"objectType": "Agreement"},
            }
        )
    return out + state.commerce.agreements.get(cust.idx, [])


def has_mca(state: SandboxState, cust: Customer) -> bool:
    """True when the customer's Microsoft Customer Agreement acceptance is confirmed."""
    return any(a["type"] == MCA for a in seeded_agreements(state, cust))


def customer_agreements(request: Request) -> Response:
    """GET /v1/customers/{id}/agreements[?agreementType=]: confirmations (App+User only)."""
    refused = app_user_refusal(request)
    if refused:
        return refused
    _, cust, denied = the_customer(request)
    if cust is None:
        return denied  # type: ignore[return-value]
    kind = query(request).get("agreementtype", MCLOUD)
    items = [a for a in seeded_agreements(sandbox(request), cust) if kind == "*" or a["type"].lower() == kind.lower()]
    return json_response(collection(items, self_uri(request)))


async def confirm_agreement(request: Request) -> Response:
    """POST /v1/customers/{id}/agreements: confirm the customer's acceptance (App+User only) → 201."""
    refused = app_user_refusal(request)
    if refused:
        return refused
    state = sandbox(request)
    _, cust, denied = the_customer(request)
    if cust is None:
        return denied  # type: ignore[return-value]
    body = await json_body(request)
    contact = body.get("primarycontact") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(contact, dict):
        return bad_input("primaryContact, dateAgreed, templateId and type are required.")
    missing = [k for k in ("dateagreed", "templateid", "type") if not body.get(k)]
    if missing or not all(contact.get(k) for k in ("firstname", "lastname", "email")):
        return bad_input("primaryContact (firstName, lastName, email), dateAgreed, templateId and type are required.")
    kind = str(body["type"])
    template = str(body["templateid"]).lower()
    if kind.lower() not in (MCA.lower(), MCLOUD.lower()):
        return bad_input(f"Agreement type {kind!r} is not supported.")
    kind = MCA if kind.lower() == MCA.lower() else MCLOUD
    if kind == MCA and template != MCA_TEMPLATE:
        return bad_input(f"templateId {template} is not the current {MCA} template.")
    person = {
        "firstName": str(contact["firstname"]),
        "lastName": str(contact["lastname"]),
        "email": str(contact["email"]),
    }
    if contact.get("phonenumber"):
        person["phoneNumber"] = str(contact["phonenumber"])
    for existing in seeded_agreements(state, cust):
        if existing["type"] == kind and existing["primaryContact"] == person:
            body600061 = {
                "code": 600061,
                "message": "A partner confirmed agreement already exists for this customer.",
                "description": "A partner confirmed agreement already exists for this customer.",
                "errorName": "PartnerConfirmedAgreementAlreadyExists",
                "isRetryable": False,
                "parameters": {},
                "errorMessageExtended": "InternalErrorCode=600061",
            }
            return Response(dumps(body600061), 400, media_type=JSON)
    _, user_id = caller(request)
    record = {
        "primaryContact": person,
        "templateId": template,
        "dateAgreed": str(body["dateagreed"]),
        "type": kind,
        "agreementLink": agreement_link(kind),
        "userId": user_id,
        "attributes": {"objectType": "Agreement"},
    }
    with state.lock:
        state.commerce.agreements.setdefault(cust.idx, []).append(record)
    return json_response(record, 201)


ROUTES = [
    Route("/v1/customers", customers, methods=["GET"]),
    Route("/v1/customers/{customer_id}", customer_by_id, methods=["GET"]),
    Route("/v1/products", products, methods=["GET"]),
    Route("/v1/products/{product_id}", product, methods=["GET"]),
    Route("/v1/products/{product_id}/skus", skus, methods=["GET"]),
    Route("/v1/products/{product_id}/skus/{sku_id}", sku, methods=["GET"]),
    Route("/v1/products/{product_id}/skus/{sku_id}/availabilities", availabilities, methods=["GET"]),
    Route("/v1/products/{product_id}/skus/{sku_id}/availabilities/{availability_id}", availability, methods=["GET"]),
    Route("/v1/customers/{customer_id}/products", products, methods=["GET"]),
    Route("/v1/customers/{customer_id}/products/{product_id}", product, methods=["GET"]),
    Route("/v1/customers/{customer_id}/products/{product_id}/skus", skus, methods=["GET"]),
    Route("/v1/customers/{customer_id}/products/{product_id}/skus/{sku_id}", sku, methods=["GET"]),
    Route(
        "/v1/customers/{customer_id}/products/{product_id}/skus/{sku_id}/availabilities",
        availabilities,
        methods=["GET"],
    ),
    Route(
        "/v1/customers/{customer_id}/products/{product_id}/skus/{sku_id}/availabilities/{availability_id}",
        availability,
        methods=["GET"],
    ),
    Route("/v1/agreements", metadata, methods=["GET"]),
    Route("/v1/customers/{customer_id}/agreements", customer_agreements, methods=["GET"]),
    Route("/v1/customers/{customer_id}/agreements", idempotent(confirm_agreement), methods=["POST"]),
]

"""Customers and the Microsoft Customer Agreement that must be confirmed before a purchase (§7, §8.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from recon.api import PartnerCenterClient, SeekPaginator
from recon.commerce.errors import explained
from recon.commerce.http import items, write

MCA = "MicrosoftCustomerAgreement"
MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"  # the docs' template id, used when metadata is unreadable


@dataclass(frozen=True)
class AgreementStatus:
    """Whether the customer's Microsoft Customer Agreement is confirmed, when, and by whom."""

    customer_id: str
    confirmed: bool
    date_agreed: str | None
    contact: str | None
    confirmations: list[dict[str, Any]]


def list_customers(client: PartnerCenterClient, page_size: int = 500) -> list[dict[str, Any]]:
    """Every customer of the partner (seek-paged)."""
    with explained("listing customers"):
        return [c for page in SeekPaginator("/customers", {"size": page_size}).pages(client) for c in page.items]


def agreement_status(client: PartnerCenterClient, customer_id: str) -> AgreementStatus:
    """The customer's MCA confirmations (App+User only on the real service)."""
    with explained(f"reading the agreements of {customer_id}"):
        found = items(client, f"/customers/{customer_id}/agreements", {"agreementType": "*"})
    mca = sorted((a for a in found if str(a.get("type")) == MCA), key=lambda a: str(a.get("dateAgreed") or ""))
    if not mca:
        return AgreementStatus(customer_id, False, None, None, [])
    last = mca[-1]
    person = last.get("primaryContact") or {}
    contact = " ".join(str(person.get(k) or "") for k in ("firstName", "lastName")).strip()
    if person.get("email"):
        contact = f"{contact} <{person['email']}>".strip()
    return AgreementStatus(customer_id, True, str(last.get("dateAgreed") or "") or None, contact or None, mca)


def mca_template_id(client: PartnerCenterClient) -> str:
    """The current MCA template id from the agreement metadata."""
    with explained("reading the agreement metadata"):
        meta = items(client, "/agreements", {"agreementType": MCA})
    ranked = sorted(meta, key=lambda m: int(m.get("versionRank") or 0))
    return str(ranked[-1]["templateId"]) if ranked else MCA_TEMPLATE


def confirm_agreement(
    client: PartnerCenterClient,
    customer_id: str,
    *,
    first_name: str,
    last_name: str,
    email: str,
    phone: str | None = None,
    agreed_on: date | None = None,
) -> dict[str, Any]:
    """Attest that the customer accepted the MCA (POST .../agreements); the confirmation as created."""
    contact = {"firstName": first_name, "lastName": last_name, "email": email}
    if phone:
        contact["phoneNumber"] = phone
    when = agreed_on or datetime.now(UTC).date()
    body = {
        "primaryContact": contact,
        "templateId": mca_template_id(client),
        "dateAgreed": f"{when.isoformat()}T00:00:00Z",
        "type": MCA,
    }
    with explained(f"confirming the agreement of {customer_id}"):
        return write(client, "POST", f"/customers/{customer_id}/agreements", body)

"""Invoice statements: a small, valid, deterministic PDF naming the invoice and its totals."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from recon.sandbox.responses import pc_error


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def statement_pdf(invoice: dict[str, Any], partner: str, lines: int) -> bytes:
    """A one-page PDF 1.4 (Helvetica, no compression, no timestamps) for an invoice record."""
    rows = [
        f"Invoice {invoice['id']}",
        f"Partner {partner}",
        f"Invoice date {invoice['invoiceDate'].isoformat()}",
        f"Billing period {invoice['periodStart'].isoformat()} to {invoice['periodEnd'].isoformat()}",
        f"Total charges {invoice['totalCharges']} {invoice['currency']}",
        f"Paid amount {invoice['paidAmount']} {invoice['currency']}",
        f"Reconciliation lines {lines}",
        "Microsoft Partner Center sandbox statement (test data)",
    ]
    text = "BT /F1 12 Tf 72 760 Td 16 TL " + " ".join(f"({_escape(r)}) Tj T*" for r in rows) + " ET"
    stream = text.encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def statement(request: Request) -> Response:
    """GET /v1/invoices/{id}/documents/statement: the invoice's PDF statement."""
    world = request.app.state.sandbox.world
    inv = world.invoice(request.path_params["invoice_id"])
    if inv is None:
        return pc_error(404, "1000", f"Invoice {request.path_params['invoice_id']} was not found.")
    pdf = statement_pdf(inv, world.partner_id, world.line_count(inv["id"]))
    headers = {"Content-Disposition": f"attachment; filename=Invoice_{inv['id']}.pdf"}
    return Response(pdf, 200, media_type="application/pdf", headers=headers)

"""Offline: cart files, the 7-day window checks and error explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from recon.commerce import Refused, read_cart_file
from recon.commerce.errors import error_code, explain
from recon.commerce.subscriptions import Change, check_change
from recon.errors import SettingsError, UpstreamError

SUB = {
    "id": "s1",
    "status": "active",
    "quantity": 8,
    "cancellationAllowedUntilDate": "2025-11-17T23:59:59Z",
    "refundableQuantity": {
        "totalQuantity": 8,
        "details": [
            {"quantity": 5, "allowedUntilDateTime": "2025-11-17T23:59:59Z"},
            {"quantity": 3, "allowedUntilDateTime": "2025-11-20T23:59:59Z"},
        ],
    },
}


def test_cart_file_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[[items]]\ncatalog_item_id = "A:0001:B"\nquantity = 2\nterm = "p1y"\nbilling = "Annual"\n')
    assert read_cart_file(toml)[0].to_api(0) == {
        "id": 0,
        "catalogItemId": "A:0001:B",
        "quantity": 2,
        "billingCycle": "annual",
        "termDuration": "P1Y",
    }
    js = tmp_path / "c.json"
    js.write_text(
        '[{"catalog_item_id": "A:0001:B", "quantity": 1, "term": "P1M", "billing": "monthly", "promotion_id": "X"}]'
    )
    assert read_cart_file(js)[0].promotion_id == "X"
    js.write_text('[{"catalog_item_id": "A:0001:B", "quantity": 1, "term": "P1M", "billing": "annual"}]')
    with pytest.raises(SettingsError, match="not sold"):
        read_cart_file(js)
    js.write_text('[{"quantity": 1}]')
    with pytest.raises(SettingsError, match="catalog_item_id"):
        read_cart_file(js)


def test_reductions_only_from_unexpired_batches() -> None:
    inside = datetime(2025, 11, 15, 12, tzinfo=UTC)
    check_change(SUB, Change(quantity=1), inside)  # 7 of 8 seats removable
    later = datetime(2025, 11, 19, 12, tzinfo=UTC)
    check_change(SUB, Change(quantity=5), later)  # the add of 3 is still open
    with pytest.raises(Refused, match="800090") as refused:
        check_change(SUB, Change(quantity=4), later)
    assert refused.value.code == 800090 and "refundableQuantity" in str(refused.value)


def test_cancel_only_inside_the_window() -> None:
    check_change(SUB, Change(cancel=True), datetime(2025, 11, 17, 23, tzinfo=UTC))
    with pytest.raises(Refused, match="auto-renew off") as refused:
        check_change(SUB, Change(cancel=True), datetime(2025, 11, 18, 0, 1, tzinfo=UTC))
    assert refused.value.code == 900117
    with pytest.raises(Refused, match="2011"):
        check_change({**SUB, "status": "deleted"}, Change(auto_renew=False), datetime(2025, 11, 1, tzinfo=UTC))
    with pytest.raises(SettingsError):
        Change(quantity=3, cancel=True)


def test_explain_names_the_code_and_what_to_do() -> None:
    exc = UpstreamError("POST /customers/c/carts/k/checkout: HTTP 403 error 13605: MCA missing (MS-RequestId r)", 403)
    assert error_code(exc) == 13605
    line = str(explain(exc, "checking out cart k"))
    assert line.startswith("checking out cart k refused with error 13605: the customer has not accepted")
    assert "confirm-agreement" in line and "\n" not in line

"""The purchase commands through click's CliRunner: formats, the whole buy, and one-line refusals."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from recon.cli import cli, main
from recon.sandbox import SandboxServer

pytestmark = pytest.mark.slow
BLUE = "0fc7f0a5-60ca-496a-9a45-5a7c29bd0705"
NOVA = "45a74ec0-8e08-4b33-be47-c5b24fbc6b99"
STANDARD = "CFQ7TTC0LDPB:0001:J29FFVKQPH6J"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("purchase-cli")
    with SandboxServer(base / "sb", inject_rates={"all": 0}) as sb:
        yield {"RECON_SANDBOX": str(sb.sandbox_json), "RECON_DB": str(base / "r.duckdb")}


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough that headers and ids are not folded."""
    from recon.cli.common import console

    monkeypatch.setattr(console, "width", 250)


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_catalog_formats(env: dict[str, str]) -> None:
    as_json = json.loads(run(env, "catalog", "products", "--country", "nl", "--format", "json").output)
    assert len(as_json) == 15 and all(p["productType"]["id"] == "OnlineServicesNCE" for p in as_json)
    rows = list(csv.reader(io.StringIO(run(env, "catalog", "products", "--country", "NL", "--format", "csv").output)))
    assert rows[0] == ["id", "title", "type", "publisher"] and len(rows) == 16
    found = json.loads(
        run(env, "catalog", "products", "--country", "NL", "--search", "standard", "--format", "json").output
    )
    assert STANDARD.split(":")[0] in {p["id"] for p in found}
    avail = run(env, "catalog", "availabilities", "CFQ7TTC0LDPB", "0001", "--country", "NL", "--format", "csv").output
    assert STANDARD in avail and "P1Y,Monthly" in avail
    assert "CFQ7TTC0LDPB" in run(env, "catalog", "product", "CFQ7TTC0LDPB", "--country", "NL").output
    assert "0001" in run(env, "catalog", "skus", "CFQ7TTC0LDPB", "--country", "NL", "--format", "csv").output


def test_customers_and_agreement(env: dict[str, str]) -> None:
    customers = json.loads(run(env, "customers", "list", "--format", "json").output)
    assert {BLUE, NOVA} <= {c["id"] for c in customers}
    assert "confirmed on" in run(env, "customers", "agreement", BLUE).output
    assert "not confirmed" in run(env, "customers", "agreement", NOVA).output


def test_buy_refused_without_agreement_is_one_line(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["buy", "--customer", NOVA, "--catalog-item", STANDARD, "--quantity", "2", "--term", "P1Y"]
    code = main([*args, "--billing", "monthly", "--yes"])
    err = capsys.readouterr().err
    assert code == 3
    assert "13605" in err and "confirm-agreement" in err and "Traceback" not in err
    assert main([*args, "--billing", "triennial", "--yes"]) == 2  # P1Y triennial is not sold
    assert "not sold" in capsys.readouterr().err


def test_buy_show_and_change(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bought = run(env, "buy", "--customer", BLUE, "--catalog-item", STANDARD, "--quantity", "3", "--term", "P1Y",
                 "--billing", "monthly", "--yes")  # fmt: skip
    assert "order " in bought.output and "price/unit" in bought.output
    orders = json.loads(run(env, "orders", "list", "--customer", BLUE, "--format", "json").output)
    order = orders[-1]
    assert order["lineItems"][0]["quantity"] == 3
    shown = run(env, "orders", "show", order["id"], "--customer", BLUE).output
    assert "fulfilled" in shown
    subs = json.loads(
        run(env, "subscriptions", "list", "--customer", BLUE, "--order", order["id"], "--format", "json").output
    )
    sub = subs[0]["id"]
    assert "4 seat(s)" in run(env, "subscriptions", "change", sub, "--customer", BLUE, "--quantity", "4").output
    assert (
        "auto-renew off" in run(env, "subscriptions", "change", sub, "--customer", BLUE, "--auto-renew", "off").output
    )
    assert main(["subscriptions", "change", sub, "--customer", BLUE, "--quantity", "4", "--cancel"]) == 2
    capsys.readouterr()
    # a cart checked out again answers its first result (idempotent), never a second order
    cart = tmp_path / "c.toml"
    cart.write_text(f'[[items]]\ncatalog_item_id = "{STANDARD}"\nquantity = 1\nterm = "P1Y"\nbilling = "monthly"\n')
    dry = run(env, "buy", "--customer", BLUE, "--cart-file", str(cart), "--dry-run").output
    cart_id = dry.split("recon cart checkout ")[1].split()[0]
    assert "Active" in run(env, "cart", "show", cart_id, "--customer", BLUE).output
    cart.write_text(f'[[items]]\ncatalog_item_id = "{STANDARD}"\nquantity = 7\nterm = "P1Y"\nbilling = "monthly"\n')
    assert " 7 " in run(env, "cart", "update", cart_id, "--customer", BLUE, "--cart-file", str(cart)).output
    first = run(env, "cart", "checkout", cart_id, "--customer", BLUE).output
    again = run(env, "cart", "checkout", cart_id, "--customer", BLUE).output
    assert first.splitlines()[0] == again.splitlines()[0]
    assert main(["cart", "update", cart_id, "--customer", BLUE, "--cart-file", str(cart)]) == 3
    assert "800065" in capsys.readouterr().err

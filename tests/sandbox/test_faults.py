"""Fault injection over HTTPS: 429, 5xx, dropped bodies, bad JSON, strings, token expiry, paging faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from recon.sandbox import SandboxServer
from recon.sandbox.faults import parse_fault
from recon.sandbox.jsonenc import dumps

from .helpers import https_session, msal_app

pytestmark = pytest.mark.slow
LINES = "/v1/invoices/{}/lineitems?provider=onetime&invoicelineitemtype=billinglineitems&size=2"


@contextmanager
def faulted(tmp_path: Path, *faults: str) -> Iterator[tuple[SandboxServer, requests.Session]]:
    with SandboxServer(tmp_path, faults=list(faults)) as server:
        session = https_session(server.info)
        token = msal_app(server.info, server.info["client_secret"]).acquire_token_for_client([server.info["pc_scope"]])[
            "access_token"
        ]
        session.headers["Authorization"] = f"Bearer {token}"
        yield server, session


def url(server: SandboxServer, path: str) -> str:
    return server.info["pc_base_url"] + path


def test_fault_specs_are_validated() -> None:
    assert parse_fault("429:0.2:1").arg == "1" and parse_fault("5xx:0.05@lineitems").route == "lineitems"
    for bad in ("429", "bogus:0.1", "429:2", "5xx:0.1:404", "drop:0.1@nowhere", "gzip:0.1"):
        with pytest.raises(ValueError):
            parse_fault(bad)
    with pytest.raises(ValueError):
        SandboxServer(Path("/nonexistent-never-created"), faults=["bogus:1"])


def test_5xx_with_pc_error_body(tmp_path: Path) -> None:
    with faulted(tmp_path, "5xx:1.0:502@invoices") as (server, http):
        resp = http.get(url(server, "/v1/invoices"))
        assert resp.status_code == 502 and set(resp.json()) == {"code", "description", "data", "source"}
        log = server.state.log[-1]
        assert log["fault"] == "5xx:1.0:502@invoices" and log["status"] == 502


def test_strings_send_numbers_as_text(tmp_path: Path) -> None:
    with faulted(tmp_path, "strings:1.0@invoices") as (server, http):
        body = json.loads(http.get(url(server, "/v1/invoices")).content)
        assert isinstance(body["totalCount"], int)
        assert len(body["items"]) == len(server.state.world.invoices) + len(server.state.world.documents)
        for item in body["items"]:
            inv = server.state.world.invoice(item["id"])
            assert item["totalCharges"] == str(inv["totalCharges"])
            assert Decimal(item["totalCharges"]) == inv["totalCharges"]


def test_badjson_is_well_framed_but_invalid(tmp_path: Path) -> None:
    with faulted(tmp_path, "badjson:1.0@invoices") as (server, http):
        resp = http.get(url(server, "/v1/invoices"))
        assert resp.status_code == 200 and int(resp.headers["content-length"]) == len(resp.content)
        with pytest.raises(ValueError):
            json.loads(resp.content)


def test_drop_cuts_the_body(tmp_path: Path) -> None:
    with faulted(tmp_path, "drop:1.0@invoices") as (server, http):
        with pytest.raises(requests.exceptions.RequestException):
            http.get(url(server, "/v1/invoices"))
        assert server.state.log[-1]["fault"] == "drop:1.0@invoices"


def test_token_expiry_after_n_calls(tmp_path: Path) -> None:
    with faulted(tmp_path, "token-expiry:1.0:2") as (server, http):
        assert [http.get(url(server, "/v1/invoices")).status_code for _ in range(3)] == [200, 200, 401]
        assert http.get(url(server, "/v1/invoices")).status_code == 401  # stays expired
        fresh = msal_app(server.info, server.info["client_secret"]).acquire_token_for_client([server.info["pc_scope"]])[
            "access_token"
        ]
        assert http.get(url(server, "/v1/invoices"), headers={"Authorization": f"Bearer {fresh}"}).ok


def _walk(server: SandboxServer, http: requests.Session, inv: str, limit: int = 500) -> tuple[list[Any], int]:
    body = http.get(url(server, LINES.format(inv))).json()
    items, empty = list(body["items"]), 0
    for _ in range(limit):
        if "next" not in body["links"]:
            return items, empty
        nxt = body["links"]["next"]
        headers = {h["key"]: h["value"] for h in nxt["headers"]}
        body = http.get(url(server, "/v1" + nxt["uri"]), headers=headers).json()
        empty += not body["items"]
        items += body["items"]
    raise AssertionError("paging did not end")


def test_empty_next_pages_still_lead_to_every_line(tmp_path: Path) -> None:
    with faulted(tmp_path, "empty-next:0.4@lineitems") as (server, http):
        inv = server.state.world.invoices[0]["id"]
        items, empty = _walk(server, http, inv)
        assert empty >= 1
        expected = server.state.world.line_page(inv, 0, 10**6)
        assert items == json.loads(dumps(expected))  # every line exactly once, in order


def test_repeat_token_returns_the_sent_token(tmp_path: Path) -> None:
    with faulted(tmp_path, "repeat-token:1.0@lineitems") as (server, http):
        inv = server.state.world.invoices[0]["id"]
        first = http.get(url(server, LINES.format(inv))).json()
        sent = first["continuationToken"]
        second = http.get(
            url(server, LINES.format(inv) + "&seekOperation=Next"), headers={"MS-ContinuationToken": sent}
        ).json()
        assert second["continuationToken"] == sent and second["items"] != first["items"]


def test_admin_puts_faults_and_switches(tmp_path: Path) -> None:
    with faulted(tmp_path) as (server, http):
        admin = https_session(server.info)
        admin.headers["Authorization"] = f"Bearer {server.info['admin_token']}"
        base = server.info["admin_url"]
        assert admin.put(base + "/faults", json=["5xx:1.0:503@invoices"]).json() == ["5xx:1.0:503@invoices"]
        assert http.get(url(server, "/v1/invoices")).status_code == 503
        assert admin.put(base + "/faults", json=["nope:1"]).status_code == 400
        assert admin.put(base + "/faults", json=[]).json() == []
        assert http.get(url(server, "/v1/invoices")).status_code == 200
        before = server.state.world.invoices[0]["totalCharges"]
        switches = admin.put(base + "/switches", json={"seat_rounding": "A"}).json()
        assert switches["seat_rounding"] == "A" and server.state.info()["switches"]["seat_rounding"] == "A"
        assert server.state.world.invoices[0]["totalCharges"] != before
        assert admin.put(base + "/switches", json={"seat_rounding": "Z"}).status_code == 400

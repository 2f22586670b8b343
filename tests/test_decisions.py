"""Analysts' decisions: kept in their own file, joined into every reconcile run, resolved when a finding goes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.cli import main
from recon.errors import SettingsError
from recon.extract import extract
from recon.reconcile import reconcile
from recon.sandbox import SandboxServer
from recon.settings import Settings, load_settings
from recon.store import open_writer, reader
from recon.store.decisions import STATUSES, Decision, DecisionStore, automatic_decisions
from tests.conftest import settings_for

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_the_store_is_a_log_whose_latest_row_counts(tmp_path: Path) -> None:
    store = DecisionStore(tmp_path / "decisions.sqlite")
    assert store.current().is_empty()
    store.record([Decision("f1", "disputed", "ticket 123", "ana"), Decision("f2", "accepted", None, "ana")], NOW)
    store.record([Decision("f1", "resolved", "credit on G1", "bo")], NOW)
    log = store.log()
    assert log.get_column("finding_id").to_list() == ["f1", "f2", "f1"]
    current = {r["finding_id"]: (r["status"], r["who"], r["note"]) for r in store.current().iter_rows(named=True)}
    assert current == {"f1": ("resolved", "bo", "credit on G1"), "f2": ("accepted", "ana", None)}
    assert log.get_column("decided_at").to_list()[0] == NOW.replace(tzinfo=None)


def test_a_bad_status_or_no_author_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = DecisionStore(tmp_path / "decisions.sqlite")
    with pytest.raises(SettingsError, match="status must be one of"):
        store.record([Decision("f1", "accepted", None, "ana"), Decision("f2", "ignored", None, "ana")])
    with pytest.raises(SettingsError, match="who"):
        store.record([Decision("f1", "accepted", None, " ")])
    assert store.log().is_empty()


ids = st.sampled_from([f"f{n}" for n in range(8)])


@given(
    seen=st.sets(ids),
    found=st.sets(ids),
    prior=st.dictionaries(ids, st.tuples(st.sampled_from(STATUSES), st.booleans())),
)
def test_automatic_decisions_resolve_what_went_and_reopen_only_what_they_closed(
    seen: set[str], found: set[str], prior: dict[str, tuple[str, bool]]
) -> None:
    current = pl.DataFrame(
        {
            "finding_id": list(prior),
            "status": [s for s, _ in prior.values()],
            "automatic": [a for _, a in prior.values()],
        },
        schema={"finding_id": pl.String, "status": pl.String, "automatic": pl.Boolean},
    )
    out = {d.finding_id: d for d in automatic_decisions(found, seen | found, current, {}, NOW)}
    for fid in (seen | found) - found:
        if prior.get(fid, ("open", False))[0] != "resolved":
            assert out.pop(fid).status == "resolved"
    for fid in found:
        status, auto = prior.get(fid, ("open", False))
        if status == "resolved" and auto:
            assert out.pop(fid).status == "open"
    assert out == {}, "no other decision is made automatically"


@pytest.fixture(scope="module")
def reconciled(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database of the tiny sandbox, extracted and reconciled once (copied by each test)."""
    folder = tmp_path_factory.mktemp("decided")
    base = settings_for(sandbox, folder / "recon.duckdb")
    assert not extract(base).failed
    reconcile(base)
    return folder


@pytest.fixture
def db(reconciled: Path, tmp_path: Path) -> Iterator[Settings]:
    shutil.copy(reconciled / "recon.duckdb", tmp_path / "recon.duckdb")
    yield load_settings(env={"RECON_DB": str(tmp_path / "recon.duckdb")})


def _statuses(s: Settings) -> dict[str, str]:
    with reader(s.db) as con:
        return dict(con.execute("SELECT finding_id, status FROM recon.findings").fetchall())


def _recon(s: Settings, *args: str) -> int:
    return main([*args, "--db", str(s.db)])


def test_decide_shows_at_once_and_survives_reconcile(db: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    before = _statuses(db)
    assert before and set(before.values()) == {"open"}
    chosen = sorted(before)[:3]
    assert _recon(db, "decide", *chosen[:2], "--status", "disputed", "--note", "ticket 4711", "--who", "ana") == 0
    assert _recon(db, "decide", chosen[2], "--status", "accepted", "--who", "bo") == 0
    shown = _statuses(db)
    assert [shown[f] for f in chosen] == ["disputed", "disputed", "accepted"]
    assert (db.data_dir / "decisions.sqlite").exists(), "decisions live in their own file"
    reconcile(db)
    again = _statuses(db)
    assert set(again) == set(before), "re-running keeps every finding_id"
    assert again == shown, "and every decision"
    with reader(db.db) as con:
        log = con.execute("SELECT finding_id, status, note, who FROM recon.decisions ORDER BY seq").fetchall()
    assert (chosen[0], "disputed", "ticket 4711", "ana") in log
    capsys.readouterr()
    assert _recon(db, "findings", "--status", "disputed", "--json", "--min-severity", "info") == 0
    listed = [json.loads(line)["finding_id"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == chosen[:2]


def test_decide_refuses_unknown_ids_and_writes_nothing(db: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    known = sorted(_statuses(db))[0]
    assert _recon(db, "decide", known, "nope-123", "--status", "accepted") == 2
    assert "unknown finding id(s) nope-123" in capsys.readouterr().err
    assert DecisionStore(db.decisions_path).log().is_empty()


def _r09(s: Settings) -> tuple[str, str]:
    with reader(s.db) as con:
        row = con.execute(
            "SELECT finding_id, invoice_number FROM recon.findings WHERE rule LIKE 'R09%' ORDER BY 1 LIMIT 1"
        ).fetchall()
    assert row, "the tiny world has an invoice whose total is off"
    return str(row[0][0]), str(row[0][1])


def _set_invoice_total(s: Settings, invoice: str, to_lines: bool) -> None:
    with open_writer(s.db) as con:
        if to_lines:
            con.execute(
                "CREATE OR REPLACE TABLE _was AS SELECT id, total_charges FROM raw.invoices WHERE id = ?", [invoice]
            )
            con.execute(
                "UPDATE raw.invoices SET total_charges = (SELECT lines_total FROM recon.tieout "
                "WHERE invoice_number = ? LIMIT 1) WHERE id = ?",
                [invoice, invoice],
            )
        else:
            con.execute("UPDATE raw.invoices i SET total_charges = w.total_charges FROM _was w WHERE i.id = w.id")


def test_a_finding_that_goes_away_is_resolved_and_reopened_if_it_comes_back(db: Settings) -> None:
    finding, invoice = _r09(db)
    assert _recon(db, "decide", finding, "--status", "disputed", "--who", "ana") == 0
    _set_invoice_total(db, invoice, to_lines=True)  # the corrected invoice arrives: totals now tie out
    reconcile(db)
    assert finding not in _statuses(db)
    current = {r["finding_id"]: r for r in DecisionStore(db.decisions_path).current().iter_rows(named=True)}
    assert current[finding]["status"] == "resolved" and current[finding]["automatic"]
    assert current[finding]["who"] == "recon"
    assert json.loads(current[finding]["finding"])["invoice_number"] == invoice, "the log keeps what went away"
    reconcile(db)
    assert len(DecisionStore(db.decisions_path).log()) == 2, "a second run decides nothing new"
    _set_invoice_total(db, invoice, to_lines=False)
    reconcile(db)
    assert _statuses(db)[finding] == "open", "found again after an automatic resolve: open again"


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rerunning_reconcile_keeps_every_finding_id_and_decision(db: Settings, data: st.DataObject) -> None:
    ids = sorted(_statuses(db))
    chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=6, unique=True))
    status = data.draw(st.sampled_from(STATUSES))
    assert _recon(db, "decide", *chosen, "--status", status, "--who", "prop") == 0
    before = _statuses(db)
    reconcile(db)
    assert _statuses(db) == before


def test_reconcile_period_reports_one_month(db: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with reader(db.db) as con:
        months = [
            r[0] for r in con.execute("SELECT DISTINCT period FROM recon.findings WHERE period IS NOT NULL").fetchall()
        ]
        high = con.execute(
            "SELECT period FROM recon.findings WHERE severity = 'high' AND period IS NOT NULL LIMIT 1"
        ).fetchall()
    assert len(months) > 1 and high
    quiet = [m for m in months if m != high[0][0]]
    summary = reconcile(db, period=high[0][0])
    assert summary.findings < reconcile(db).findings
    assert _recon(db, "reconcile", "--period", f"{high[0][0]:%Y-%m}", "--fail-on", "high") == 1
    assert f"of {high[0][0]:%Y-%m}" in capsys.readouterr().out
    with reader(db.db) as con:
        top = {
            m: con.execute(
                "SELECT count(*) FROM recon.findings WHERE severity = 'high' AND (period = ? OR period IS NULL)", [m]
            ).fetchall()[0][0]
            for m in quiet
        }
    for month, highs in top.items():
        assert _recon(db, "reconcile", "--period", f"{month:%Y-%m}", "--fail-on", "high") == (1 if highs else 0)

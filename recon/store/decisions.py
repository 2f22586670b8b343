"""Analysts' decisions on findings: a small SQLite file of its own, apart from the billing database.

The store is an append-only log: every decision (status, note, who, when) is a row, and a finding's current
decision is its latest row. Rebuilding or replacing the billing database never touches it; every reconcile
run joins it in by `finding_id` and appends the automatic decisions (a finding that disappeared is resolved,
one that an automatic resolve closed and that is found again is reopened).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from recon.errors import SettingsError, StoreError
from recon.store.db import open_writer, reader

STATUSES = ("open", "accepted", "disputed", "resolved")
AUTOMATIC_WHO = "recon"

DDL = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'disputed', 'resolved')),
    note TEXT,
    who TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    automatic INTEGER NOT NULL DEFAULT 0 CHECK (automatic IN (0, 1)),
    finding TEXT
);
CREATE INDEX IF NOT EXISTS decisions_finding ON decisions (finding_id, seq);
"""

# The columns of a decision as the billing database mirrors them (`recon.decisions`).
SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "finding_id": pl.String(),
    "status": pl.String(),
    "note": pl.String(),
    "who": pl.String(),
    "decided_at": pl.Datetime("us"),
    "automatic": pl.Boolean(),
    "finding": pl.String(),
}


@dataclass(frozen=True)
class Decision:
    """One decision to record."""

    finding_id: str
    status: str
    note: str | None
    who: str
    automatic: bool = False
    finding: Mapping[str, Any] | None = None  # what the finding said, kept with automatic decisions


class DecisionStore:
    """The decisions file: open it, read the log or the current decisions, append decisions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=30)
            con.executescript(DDL)
        except sqlite3.DatabaseError as exc:
            raise SettingsError(f"decisions store {self.path}: {exc}") from None
        return con

    def log(self) -> pl.DataFrame:
        """Every decision ever recorded, oldest first."""
        if not self.path.exists():
            return pl.DataFrame(schema=SCHEMA)
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT seq, finding_id, status, note, who, decided_at, automatic, finding FROM decisions ORDER BY seq"
            ).fetchall()
        finally:
            con.close()
        frame = pl.DataFrame(
            [(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), bool(r[6]), r[7]) for r in rows],
            schema=SCHEMA,
            orient="row",
        )
        return frame

    def current(self) -> pl.DataFrame:
        """The latest decision of each finding."""
        return self.log().sort("seq").group_by("finding_id", maintain_order=True).last()

    def record(self, decisions: Iterable[Decision], at: datetime | None = None) -> int:
        """Append decisions (one transaction); return how many were written."""
        moment = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        rows = []
        for d in decisions:
            if d.status not in STATUSES:
                raise SettingsError(f"status must be one of {', '.join(STATUSES)}, not {d.status!r}")
            if not d.who.strip():
                raise SettingsError("a decision needs who made it")
            finding = json.dumps(d.finding, default=str, sort_keys=True) if d.finding is not None else None
            rows.append((d.finding_id, d.status, d.note, d.who, moment, int(d.automatic), finding))
        if not rows:
            return 0
        con = self._connect()
        try:
            with con:
                con.executemany(
                    "INSERT INTO decisions (finding_id, status, note, who, decided_at, automatic, finding) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        finally:
            con.close()
        return len(rows)


def automatic_decisions(
    found: Iterable[str],
    seen: Iterable[str],
    current: pl.DataFrame,
    previous: Mapping[str, Mapping[str, Any]],
    run_at: datetime,
) -> list[Decision]:
    """Decisions a run implies: resolve every finding seen before that this run no longer finds (unless it is
    resolved already); reopen a finding an automatic resolve closed that is found again. `previous` holds what
    the last run said of each finding (kept with the automatic resolve, so the log shows what went away)."""
    found_ids = set(found)
    latest = {row["finding_id"]: row for row in current.iter_rows(named=True)}
    stamp = run_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out: list[Decision] = []
    for finding_id in sorted(set(seen) - found_ids):
        prior = latest.get(finding_id)
        if prior is None or prior["status"] != "resolved":
            note = f"no longer found by the reconcile run of {stamp} (a credit, a re-issued line or corrected data)"
            out.append(Decision(finding_id, "resolved", note, AUTOMATIC_WHO, True, previous.get(finding_id)))
    for finding_id in sorted(found_ids):
        prior = latest.get(finding_id)
        if prior is not None and prior["status"] == "resolved" and prior["automatic"]:
            out.append(
                Decision(finding_id, "open", f"found again by the reconcile run of {stamp}", AUTOMATIC_WHO, True)
            )
    return out


@dataclass
class DecideResult:
    """What `decide` wrote."""

    recorded: int
    database_updated: bool
    note: str | None = None  # why the database still shows the old status, if it does


def decide(
    db: Path, store: DecisionStore, finding_ids: Sequence[str], status: str, note: str | None, who: str
) -> DecideResult:
    """Record one decision for each finding id (all must be known to the database), then show it in
    `recon.findings` and `recon.decisions` at once."""
    ids = list(dict.fromkeys(i.strip() for i in finding_ids if i.strip()))
    if not ids:
        raise SettingsError("name at least one finding id")
    with reader(db) as con:
        known = {
            str(r[0])
            for r in con.execute(
                "SELECT finding_id FROM meta.findings_seen WHERE finding_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        }
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise SettingsError(f"unknown finding id(s) {shown}: `recon findings` lists them")
    recorded = store.record(Decision(i, status, note, who) for i in ids)
    try:
        with open_writer(db) as con:
            con.execute("BEGIN TRANSACTION")
            con.register("_decisions", store.log().to_arrow())
            con.execute("CREATE OR REPLACE TABLE recon.decisions AS SELECT * FROM _decisions ORDER BY seq")
            con.execute("UPDATE recon.findings SET status = ? WHERE finding_id IN (SELECT unnest(?))", [status, ids])
            con.execute("COMMIT")
    except StoreError as exc:
        return DecideResult(recorded, False, f"{exc}; the next `recon reconcile` shows the decision")
    return DecideResult(recorded, True)

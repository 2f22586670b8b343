"""The fixed walk of a sandbox world's history, the way a partner sees a month go by.

From the first day of the world's first month, for every month up to the world's `today`: pull unbilled data
on days 10 and 20 and on the month's last day; for a month the world invoices, close it (the sandbox issues the
invoice) and pull its billed data. At `today` the commerce snapshots and every document are pulled. The answer
key of `recon sandbox answer-key` describes the world after exactly this walk.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from recon.api.tls import ssl_context
from recon.errors import UpstreamError
from recon.extract import ExtractSummary, extract
from recon.extract.base import Reporter
from recon.extract.runner import DATASETS, DatasetResult
from recon.settings import Settings
from recon.store import reader

UNBILLED = ("recon-unbilled", "usage-unbilled")
BILLED = ("invoices", "recon-billed", "usage-billed")
PULL_DAYS = (10, 20)


@dataclass(frozen=True)
class Step:
    """One stop of the walk: on `day`, `action` is `unbilled`, `close` or `final`."""

    day: date
    action: str


def plan(first: date, today: date, closed: frozenset[date]) -> list[Step]:
    """The walk's stops from `first` to `today`, oldest first (`closed`: months the world invoices)."""
    steps: list[Step] = []
    month = first.replace(day=1)
    while month <= today:
        last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        for day in (*(month.replace(day=d) for d in PULL_DAYS), last):
            if day <= today:
                steps.append(Step(day, "unbilled"))
        if month in closed:
            steps.append(Step(last, "close"))
        month = last + timedelta(days=1)
    if not steps or steps[-1] != Step(today, "unbilled"):
        steps.append(Step(today, "unbilled"))
    steps.append(Step(today, "final"))
    return steps


class SandboxAdmin:
    """The sandbox's admin API (clock, close-month, answer key) over HTTPS."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self._client = httpx.Client(
            base_url=str(info["admin_url"]),
            headers={"Authorization": f"Bearer {info['admin_token']}"},
            verify=ssl_context(Path(str(info["ca_cert"]))),
            trust_env=False,
            timeout=600,  # a clock move rebuilds the world: tens of seconds for `small` on a busy machine
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise UpstreamError(f"sandbox admin {method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def today(self) -> date:
        """The sandbox clock."""
        return date.fromisoformat(self._call("GET", "/clock")["today"])

    def advance_to(self, day: date) -> None:
        """Move the clock forward to `day` (no-op when it is there already)."""
        days = (day - self.today()).days
        if days < 0:
            raise UpstreamError(f"sandbox clock is at {self.today()}, past {day}; the walk cannot go back")
        if days:
            self._call("POST", "/clock/advance", json={"days": days})

    def close_month(self) -> str | None:
        """Issue the current month's invoice; its id."""
        return self._call("POST", "/clock/close-month").get("invoice")

    def answer_key(self) -> list[dict[str, Any]]:
        """The live answer key."""
        return list(self._call("GET", "/answer-key"))

    def close(self) -> None:
        self._client.close()


@dataclass
class WalkResult:
    """Every extract run of the walk, in order, with the stop it belonged to."""

    runs: list[tuple[Step, ExtractSummary]] = field(default_factory=list)

    def merged(self) -> ExtractSummary:
        """One summary for the whole walk: units, rows and retries added up per dataset, errors kept."""
        out = ExtractSummary()
        for step, summary in self.runs:
            out.retries += summary.retries
            for name, r in summary.results.items():
                total = out.results.setdefault(name, DatasetResult(name))
                total.units += r.units
                total.rows += r.rows
                total.quarantined += r.quarantined
                total.notes.extend(r.notes)
                if r.error:
                    total.error = f"{step.day}: {r.error}"
        return out

    @property
    def failed(self) -> list[str]:
        """Datasets that failed at some stop (`day dataset: error`)."""
        return [f"{step.day} {r.dataset}: {r.error}" for step, summary in self.runs for r in summary.failed]


def _loaded_invoices(settings: Settings) -> set[str]:
    """Invoices whose billed lines are already complete in the database."""
    if not settings.db.exists():
        return set()
    with reader(settings.db) as con:
        rows = con.execute(
            "SELECT DISTINCT lower(unit) FROM meta.loads WHERE dataset = 'recon-billed' AND status = 'complete'"
        ).fetchall()
    return {str(r[0]) for r in rows}


def walk(
    settings: Settings,
    info: Mapping[str, Any],
    *,
    reporter: Reporter | None = None,
    on_step: Callable[[Step], None] | None = None,
    datasets: tuple[str, ...] | None = None,
) -> WalkResult:
    """Walk the sandbox described by `info` (its sandbox.json) and extract into `settings.db` at every stop."""
    first = date.fromisoformat(str(info["first_month"]))
    today = date.fromisoformat(str(info["world_today"]))
    closed = frozenset(date.fromisoformat(str(m)) for m in info["closed_months"])
    admin = SandboxAdmin(info)
    result = WalkResult()
    try:
        for step in plan(first, today, closed):
            if on_step is not None:
                on_step(step)
            for summary in _stop(settings, admin, step, reporter, datasets):
                result.runs.append((step, summary))
    finally:
        admin.close()
    return result


def _stop(
    settings: Settings, admin: SandboxAdmin, step: Step, reporter: Reporter | None, only: tuple[str, ...] | None
) -> Iterator[ExtractSummary]:
    def run(names: tuple[str, ...], **kwargs: Any) -> Iterator[ExtractSummary]:
        chosen = [n for n in names if only is None or n in only]
        if chosen:
            yield extract(settings, datasets=chosen, reporter=reporter, **kwargs)

    admin.advance_to(step.day)
    if step.action == "unbilled":
        yield from run(UNBILLED, periods=("current",))
    elif step.action == "close":
        invoice = admin.close_month()
        if invoice:
            yield from run(BILLED, invoice_ids=[invoice])
    else:
        yield from run((*(d for d in DATASETS if d not in UNBILLED + BILLED), "invoices"))
        loaded = _loaded_invoices(settings)
        with reader(settings.db) as con:
            listed = [str(r[0]) for r in con.execute("SELECT DISTINCT id FROM raw.invoices").fetchall()]
        missing = sorted(i for i in listed if i.lower() not in loaded)
        if missing:  # documents issued without a close: legacy invoices, credit notes
            yield from run(("recon-billed", "usage-billed"), invoice_ids=missing)

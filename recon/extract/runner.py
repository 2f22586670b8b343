"""`recon extract`: run the chosen datasets; one failing dataset does not stop the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from recon.api import PartnerCenterClient
from recon.errors import ReconError, UpstreamError
from recon.extract import invoices as inv
from recon.extract import lineitems
from recon.extract.base import ExtractContext, NullReporter, Reporter
from recon.settings import Settings
from recon.store import open_writer

DATASETS: tuple[str, ...] = ("invoices", "recon-billed")


@dataclass
class DatasetResult:
    """Outcome of one dataset in one run."""

    dataset: str
    units: int = 0
    rows: int = 0
    quarantined: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExtractSummary:
    """Outcome of a run: per dataset, plus retries the client made."""

    results: dict[str, DatasetResult] = field(default_factory=dict)
    retries: int = 0

    @property
    def failed(self) -> list[DatasetResult]:
        return [r for r in self.results.values() if not r.ok]


def _run_units(result: DatasetResult, units: Iterable[str], fn: Callable[[str], Any]) -> None:
    for unit in units:
        try:
            landed = fn(unit)
        except ReconError as exc:
            result.error = str(exc)
            return
        result.units += 1
        result.rows += landed.rows
        result.quarantined += landed.quarantined


def extract(
    settings: Settings,
    *,
    datasets: Sequence[str] | None = None,
    since: date | None = None,
    invoice_ids: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    client: PartnerCenterClient | None = None,
) -> ExtractSummary:
    """Extract the chosen datasets into the DuckDB file named by the settings."""
    chosen = list(datasets or DATASETS)
    unknown = [d for d in chosen if d not in DATASETS]
    if unknown:
        raise ReconError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    summary = ExtractSummary()
    own_client = client is None
    client = client or PartnerCenterClient(settings)
    try:
        with open_writer(settings.db) as con:
            ctx = ExtractContext(client=client, con=con, raw_dir=settings.raw_dir, reporter=reporter or NullReporter())
            try:
                listed: list[Mapping[str, Any]] = inv.list_invoices(ctx)
            except UpstreamError as exc:
                for name in chosen:
                    summary.results[name] = DatasetResult(name, error=str(exc))
                return summary
            scope = [str(i["id"]) for i in inv.select(listed, since=since, ids=invoice_ids) if i.get("id")]
            missing = sorted({i.lower() for i in invoice_ids or []} - {s.lower() for s in scope})
            if missing:
                raise ReconError(f"invoice(s) not found: {', '.join(missing)}")
            for name in chosen:
                result = summary.results.setdefault(name, DatasetResult(name))
                if name == "invoices":
                    _run_units(result, scope, lambda unit: inv.extract_invoice(ctx, unit))
                elif name == "recon-billed":
                    _run_units(result, scope, lambda unit: lineitems.extract_billed(ctx, unit))
    finally:
        summary.retries = client.retries
        if own_client:
            client.close()
    return summary

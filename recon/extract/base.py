"""Landing one unit: raw files first, then typed rows and the load marker in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from recon.api import Page, PartnerCenterClient
from recon.errors import ReconError, UpstreamError
from recon.extract.fields import normalise
from recon.store.loads import UnitResult, begin_load, commit_unit, complete_loads, fail_load
from recon.store.rawfiles import prune, unit_dir, write_page, write_sidecar


class Reporter(Protocol):
    """Receives progress while a dataset is extracted."""

    def pages(self, dataset: str, pages: int, rows: int) -> None: ...

    def unit_done(self, dataset: str) -> None: ...


class NullReporter:
    """A reporter that shows nothing."""

    def pages(self, dataset: str, pages: int, rows: int) -> None:
        """Ignore page progress."""

    def unit_done(self, dataset: str) -> None:
        """Ignore unit completion."""


@dataclass
class ExtractContext:
    """What every extractor needs: the client, the writer connection and where raw files go."""

    client: PartnerCenterClient
    con: duckdb.DuckDBPyConnection
    raw_dir: Path
    statements_dir: Path
    reporter: Reporter = field(default_factory=NullReporter)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Resource:
    """Where a resource's items land: table, API field map and declared columns."""

    table: str
    fields: Mapping[str, str]
    columns: tuple[tuple[str, str], ...]


def land_unit(
    ctx: ExtractContext,
    *,
    dataset: str,
    unit: str,
    resource: Resource,
    pages: Iterable[Page],
    params: dict[str, Any],
    api: str = "v1",
    snapshot: str | None = None,
) -> UnitResult:
    """Fetch every page of a unit, land raw files, then replace the unit's rows atomically.

    With `snapshot` (`date` or `time`), the unit is named after the source's clock too (`unit@as-of`), so
    pulls on other dates (or at other times) are kept beside each other.
    """
    load_id = begin_load(ctx.con, dataset, unit, api, params, ctx.clock())
    folder = unit_dir(ctx.raw_dir, dataset, unit)
    load_folder = folder / load_id
    tables: list[pa.Table] = []
    drift: Counter[str] = Counter()
    provenance: list[dict[str, Any]] = []
    as_of: datetime | None = None
    try:
        for page in pages:
            raw = write_page(load_folder, page.number, page.items)
            table, page_drift = normalise(page.items, resource.fields, resource.columns, page_no=page.number)
            tables.append(table)
            drift.update(page_drift)
            as_of = as_of or page.response.date
            provenance.append(
                {
                    "page": page.number,
                    "url": page.response.url,
                    "request_id": page.response.request_id,
                    "date": page.response.date.isoformat() if page.response.date else None,
                    "file": str(raw.path.relative_to(ctx.raw_dir)),
                    "size": raw.size,
                    "sha256": raw.sha256,
                    "items": raw.lines,
                }
            )
            ctx.reporter.pages(dataset, 1, len(page.items))
        final_unit = snapshot_unit(unit, as_of, snapshot) if snapshot else unit
        write_sidecar(
            load_folder,
            {
                "load_id": load_id,
                "dataset": dataset,
                "unit": final_unit,
                "table": resource.table,
                "api": api,
                "params": params,
                "as_of": as_of.isoformat() if as_of else None,
                "pages": provenance,
            },
        )
        rows = pa.concat_tables(tables) if tables else normalise([], resource.fields, resource.columns, page_no=0)[0]
        result = commit_unit(
            ctx.con,
            table=resource.table,
            load_id=load_id,
            dataset=dataset,
            unit=final_unit,
            rows=rows,
            as_of=as_of,
            pages=len(provenance),
            provenance=provenance,
            drift=dict(drift),
            finished_at=ctx.clock(),
        )
    except ReconError as exc:
        fail_load(ctx.con, load_id, str(exc), ctx.clock())
        raise
    prune(folder, keep=complete_loads(ctx.con, dataset))
    ctx.reporter.unit_done(dataset)
    return result


def snapshot_unit(unit: str, as_of: datetime | None, grain: str = "time") -> str:
    """The unit of one pull of a snapshot dataset: `unit@YYYY-MM-DD` or `unit@YYYY-MM-DDTHH:MM:SSZ`."""
    if as_of is None:
        raise UpstreamError(f"{unit}: the source sent no Date header, so this snapshot has no as-of time")
    stamp = "%Y-%m-%d" if grain == "date" else "%Y-%m-%dT%H:%M:%SZ"
    return f"{unit}@{as_of.astimezone(UTC).strftime(stamp)}"

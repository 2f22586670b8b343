"""Landing one unit: raw files first, then typed rows and the load marker in one transaction."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from recon.api import Page, PartnerCenterClient
from recon.api.exports import BlobDownloader, Export
from recon.api.paging import ResumePoint
from recon.errors import ReconError, UpstreamError
from recon.extract.fields import normalise
from recon.store.loads import (
    Unfinished,
    UnitResult,
    begin_load,
    commit_unit,
    complete_loads,
    fail_load,
    save_progress,
    unfinished_load,
)
from recon.store.rawfiles import prune, read_page, unit_dir, write_page, write_sidecar


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
    graph: PartnerCenterClient | None = None
    blobs: BlobDownloader | None = None
    pool: ThreadPoolExecutor | None = None
    exports: dict[Any, Future[Export]] = field(default_factory=dict)


Prepare = Callable[[Mapping[str, Any], Mapping[str, str]], Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Resource:
    """Where a resource's items land: table, API field map, declared columns.

    `prepare` turns one raw item (and its page's context, e.g. the customer it was fetched for) into
    the flat rows that land; raw files keep the items as received.
    """

    table: str
    fields: Mapping[str, str]
    columns: tuple[tuple[str, str], ...]
    prepare: Prepare | None = None
    required: tuple[str, ...] = ()  # columns a line must have a value in, else it is quarantined

    def rows(
        self, items: Iterable[Mapping[str, Any]], context: Mapping[str, str], page_no: int
    ) -> tuple[pa.Table, Counter[str]]:
        """The page's items as a text table in canonical columns, with unknown-field counts."""
        if self.prepare is not None:
            items = [row for item in items for row in self.prepare(item, context)]
        return normalise(items, self.fields, self.columns, page_no=page_no)


Source = Callable[[ResumePoint | None], Iterable[Page]]


@dataclass
class _Landing:
    """Pages landed so far for one load of a unit."""

    tables: list[pa.Table] = field(default_factory=list)
    drift: Counter[str] = field(default_factory=Counter)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    as_of: datetime | None = None


def _reuse(ctx: ExtractContext, prior: Unfinished, resource: Resource, folder: Path) -> _Landing | None:
    """Re-read the pages an unfinished load already landed, if every file is there and intact."""
    if not prior.resume_point or not prior.provenance:
        return None
    landing = _Landing()
    for entry in prior.provenance:
        path = ctx.raw_dir / entry["file"]
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            return None
        items = list(read_page(path))
        table, drift = resource.rows(items, entry.get("context") or {}, int(entry["page"]))
        landing.tables.append(table)
        landing.drift.update(drift)
        landing.provenance.append(entry)
    first_date = prior.provenance[0].get("date")
    landing.as_of = datetime.fromisoformat(first_date) if first_date else None
    return landing


def land_unit(
    ctx: ExtractContext,
    *,
    dataset: str,
    unit: str,
    resource: Resource,
    source: Source,
    params: dict[str, Any],
    api: str = "v1",
    snapshot: str | None = None,
) -> UnitResult:
    """Fetch every page of a unit, land raw files, then replace the unit's rows atomically.

    After a crash, a kill or a failure, the unit's unfinished load continues from its last good page
    (its raw files are re-used) when the source allows; otherwise the unit is fetched again.
    With `snapshot` (`date` or `time`), the unit is named after the source's clock too (`unit@as-of`), so
    pulls on other dates (or at other times) are kept beside each other; snapshots always start afresh.
    """
    folder = unit_dir(ctx.raw_dir, dataset, unit)
    prior = None if snapshot else unfinished_load(ctx.con, dataset, unit)
    landing = _reuse(ctx, prior, resource, folder) if prior else None
    if prior is not None and landing is not None:
        load_id = prior.load_id
        resume = ResumePoint.from_json(prior.resume_point or {})
        ctx.reporter.pages(dataset, len(landing.provenance), sum(t.num_rows for t in landing.tables))
    else:
        load_id = begin_load(ctx.con, dataset, unit, api, params, ctx.clock())
        landing, resume = _Landing(), None
    try:
        try:
            pages = source(resume)
            if resume is not None:
                pages = _refusal_aware(pages)
            result = _fetch_and_commit(
                ctx, load_id, dataset, unit, resource, pages, landing, params, api, snapshot, folder
            )
        except _ResumeRefused:
            # the source refused the stored continuation (an expired token, say): fetch the unit again
            fail_load(ctx.con, load_id, "resume refused by the source; fetched again", ctx.clock())
            load_id = begin_load(ctx.con, dataset, unit, api, params, ctx.clock())
            result = _fetch_and_commit(
                ctx, load_id, dataset, unit, resource, source(None), _Landing(), params, api, snapshot, folder
            )
    except ReconError as exc:
        fail_load(ctx.con, load_id, str(exc), ctx.clock())
        raise
    prune(folder, keep=complete_loads(ctx.con, dataset))
    ctx.reporter.unit_done(dataset)
    return result


class _ResumeRefused(Exception):
    """The source refused the stored request for the next page."""


def _refusal_aware(pages: Iterable[Page]) -> Iterator[Page]:
    """Turn a client error on the first resumed request (an expired token, say) into _ResumeRefused."""
    iterator = iter(pages)
    try:
        first = next(iterator)
    except StopIteration:
        return
    except UpstreamError as exc:
        if exc.status in (400, 404, 410):
            raise _ResumeRefused(str(exc)) from None
        raise
    yield first
    yield from iterator


def _fetch_and_commit(
    ctx: ExtractContext,
    load_id: str,
    dataset: str,
    unit: str,
    resource: Resource,
    pages: Iterable[Page],
    landing: _Landing,
    params: dict[str, Any],
    api: str,
    snapshot: str | None,
    folder: Path,
) -> UnitResult:
    load_folder = folder / load_id
    for page in pages:
        raw = write_page(load_folder, page.number, page.items, body=page.raw)
        table, page_drift = resource.rows(page.items, page.context, page.number)
        landing.tables.append(table)
        landing.drift.update(page_drift)
        landing.as_of = landing.as_of or page.response.date
        landing.provenance.append(
            {
                "page": page.number,
                "url": page.response.url,
                "request_id": page.response.request_id,
                "date": page.response.date.isoformat() if page.response.date else None,
                "file": str(raw.path.relative_to(ctx.raw_dir)),
                "size": raw.size,
                "sha256": raw.sha256,
                "items": raw.lines,
                **({"context": dict(page.context)} if page.context else {}),
            }
        )
        if page.next is not None:
            save_progress(ctx.con, load_id, landing.provenance, page.next.to_json())
        ctx.reporter.pages(dataset, 1, len(page.items))
    final_unit = snapshot_unit(unit, landing.as_of, snapshot) if snapshot else unit
    write_sidecar(
        load_folder,
        {
            "load_id": load_id,
            "dataset": dataset,
            "unit": final_unit,
            "table": resource.table,
            "api": api,
            "params": params,
            "as_of": landing.as_of.isoformat() if landing.as_of else None,
            "pages": landing.provenance,
        },
    )
    empty = normalise([], resource.fields, resource.columns, page_no=0)[0]
    return commit_unit(
        ctx.con,
        table=resource.table,
        load_id=load_id,
        dataset=dataset,
        unit=final_unit,
        rows=pa.concat_tables(landing.tables) if landing.tables else empty,
        as_of=landing.as_of,
        pages=len(landing.provenance),
        provenance=landing.provenance,
        drift=dict(landing.drift),
        finished_at=ctx.clock(),
        required=resource.required,
    )


def snapshot_unit(unit: str, as_of: datetime | None, grain: str = "time") -> str:
    """The unit of one pull of a snapshot dataset: `unit@YYYY-MM-DD` or `unit@YYYY-MM-DDTHH:MM:SSZ`."""
    if as_of is None:
        raise UpstreamError(f"{unit}: the source sent no Date header, so this snapshot has no as-of time")
    stamp = "%Y-%m-%d" if grain == "date" else "%Y-%m-%dT%H:%M:%SZ"
    return f"{unit}@{as_of.astimezone(UTC).strftime(stamp)}"

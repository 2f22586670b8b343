"""`recon load --replay`: rebuild the raw tables from the landed raw files alone."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from recon.errors import ReconError
from recon.extract.audit import AUDIT_RECORDS
from recon.extract.base import Resource
from recon.extract.catalog import AVAILABILITIES, PRODUCTS, SKUS
from recon.extract.commerce import CUSTOMERS, ORDERS, SUBSCRIPTIONS
from recon.extract.fields import normalise
from recon.extract.invoices import ESTIMATE_LINKS, RESOURCE, SUMMARIES
from recon.extract.lineitems import RECON, USAGE
from recon.extract.pricelist import PRICE_LIST
from recon.settings import Settings
from recon.store import open_writer
from recon.store.loads import begin_load, commit_unit
from recon.store.rawfiles import read_page

RESOURCES: dict[str, Resource] = {
    r.table: r
    for r in (
        RESOURCE,
        SUMMARIES,
        ESTIMATE_LINKS,
        RECON,
        USAGE,
        CUSTOMERS,
        SUBSCRIPTIONS,
        ORDERS,
        PRODUCTS,
        SKUS,
        AVAILABILITIES,
        AUDIT_RECORDS,
        PRICE_LIST,
    )
}


@dataclass
class ReplaySummary:
    """What a replay rebuilt."""

    units: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)


def _sidecars(raw_dir: Path, dataset: str | None, unit: str | None) -> list[tuple[Path, dict[str, Any]]]:
    """The newest complete raw load of every unit (a load folder with its `_load.json`)."""
    newest: dict[tuple[str, str], tuple[str, float, Path, dict[str, Any]]] = {}
    for sidecar in raw_dir.glob("*/*/*/_load.json"):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if dataset and meta["dataset"] != dataset:
            continue
        if unit and unit not in (meta["unit"], meta["unit"].split("@")[0]):
            continue
        key = (meta["dataset"], meta["unit"])
        rank = (meta.get("as_of") or "", sidecar.stat().st_mtime)
        if key not in newest or rank > newest[key][:2]:
            newest[key] = (*rank, sidecar.parent, meta)
    return [
        (folder, meta) for _, _, folder, meta in sorted(newest.values(), key=lambda v: (v[3]["dataset"], v[3]["unit"]))
    ]


def replay(settings: Settings, *, dataset: str | None = None, unit: str | None = None) -> ReplaySummary:
    """Reload every unit (or those chosen) from its raw files into the database, replacing what is there."""
    summary = ReplaySummary()
    found = _sidecars(settings.raw_dir, dataset, unit)
    if not found:
        raise ReconError(f"no raw loads to replay under {settings.raw_dir}" + (f" for {dataset}" if dataset else ""))
    with open_writer(settings.db) as con:
        for folder, meta in found:
            resource = RESOURCES.get(meta.get("table", ""))
            if resource is None:
                summary.skipped.append(f"{meta['dataset']}/{meta['unit']}: unknown table {meta.get('table')!r}")
                continue
            tables, drift = [], Counter[str]()
            for entry in meta["pages"]:
                path = settings.raw_dir / entry["file"]
                if not path.exists():
                    raise ReconError(f"replay {meta['dataset']}/{meta['unit']}: raw file {path} is missing")
                table, page_drift = resource.rows(list(read_page(path)), entry.get("context") or {}, int(entry["page"]))
                tables.append(table)
                drift.update(page_drift)
            now = datetime.now(UTC)
            load_id = begin_load(con, meta["dataset"], meta["unit"], "replay", meta.get("params") or {}, now)
            as_of = datetime.fromisoformat(meta["as_of"]) if meta.get("as_of") else None
            empty = normalise([], resource.fields, resource.columns, page_no=0)[0]
            result = commit_unit(
                con,
                table=resource.table,
                load_id=load_id,
                dataset=meta["dataset"],
                unit=meta["unit"],
                rows=pa.concat_tables(tables) if tables else empty,
                as_of=as_of,
                pages=len(meta["pages"]),
                provenance=[{**p, "replayed_from": str(folder.relative_to(settings.raw_dir))} for p in meta["pages"]],
                drift=dict(drift),
                finished_at=datetime.now(UTC),
                required=resource.required,
            )
            summary.units[meta["dataset"]] += 1
            summary.rows[meta["dataset"]] += result.rows
    return summary

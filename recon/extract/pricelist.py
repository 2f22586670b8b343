"""`recon load pricelist FILE`: Partner Center's new-commerce license-based price list into `raw.price_list`.

The Pricing workspace's download (CSV; `.xlsx` and `.parquet` are read too) has one line per product, SKU, term,
billing plan, market, currency, pricing tier and effective period; `UnitPrice` is the price of one charge cycle
of the billing plan (the year for `Annual`, the month for `Monthly`):

    ProductTitle,ProductId,SkuId,SkuTitle,Publisher,SkuDescription,UnitOfMeasure,TermDuration,BillingPlan,Market,
      Currency,UnitPrice,PricingTierRangeMin,PricingTierRangeMax,EffectiveStartDate,EffectiveEndDate,Tags,ERP Price,
      Segment
    Microsoft 365 E3,CFQ7TTC0LFLX,0001,Microsoft 365 E3,Microsoft Corporation,...,Licenses,P1Y,Annual,NL,EUR,
      404.40,,,2025-04-01T00:00:00Z,2025-04-30T23:59:59Z,,505.44,Commercial

Header names match case-insensitively (spaces and underscores ignored); other columns are kept in `extra`.
Prices are landed as text and cast by DuckDB to DECIMAL(38,15), never through float; a line whose value does
not fit its type, or that lacks a required value, goes to `meta.quarantine` as the extractors' lines do.
One file is one unit, named by its sha256: loading the same file again changes nothing. The lines land as a raw
page first, so `recon load --replay` rebuilds them. Which file's price counts on a date is decided when
`stg.price_list` is built (recon/transform/pricelist.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from recon.errors import ReconError
from recon.extract.base import Resource
from recon.settings import Settings
from recon.store import open_writer
from recon.store.loads import begin_load, commit_unit, complete_loads, fail_load
from recon.store.rawfiles import prune, unit_dir, write_page, write_sidecar
from recon.store.schema import PRICE_LIST as COLUMNS
from recon.store.sql import first_row

DATASET: Final = "pricelist"
# Canonical column -> the header Partner Center's file uses.
HEADERS: Final[dict[str, str]] = {
    "product_title": "ProductTitle",
    "product_id": "ProductId",
    "sku_id": "SkuId",
    "sku_title": "SkuTitle",
    "publisher": "Publisher",
    "sku_description": "SkuDescription",
    "unit_of_measure": "UnitOfMeasure",
    "term_duration": "TermDuration",
    "billing_plan": "BillingPlan",
    "market": "Market",
    "currency": "Currency",
    "unit_price": "UnitPrice",
    "pricing_tier_range_min": "PricingTierRangeMin",
    "pricing_tier_range_max": "PricingTierRangeMax",
    "effective_start_date": "EffectiveStartDate",
    "effective_end_date": "EffectiveEndDate",
    "tags": "Tags",
    "erp_price": "ERP Price",
    "segment": "Segment",
}
# What a line needs to price a subscription; a file without one of these columns is refused.
REQUIRED: Final = (
    "product_id",
    "sku_id",
    "term_duration",
    "billing_plan",
    "market",
    "currency",
    "unit_price",
    "effective_start_date",
)
FORMATS: Final = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
_DATES: Final = ("effective_start_date", "effective_end_date")
# Partner Center's US-style timestamps: 4/1/2025 12:00:00 AM
_US_DATE: Final = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?"
)


@lru_cache(maxsize=1024)
def header_key(header: str) -> str:
    """A header reduced to lower-case letters and digits (`ERP Price`, `erp_price` and `ErpPrice` agree)."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


_CANONICAL: Final = {header_key(h): column for column, h in HEADERS.items()}


def _us_date_to_iso(value: str) -> str:
    """`4/1/2025 12:00:00 AM` as `2025-04-01T00:00:00+00:00`; anything else unchanged (ISO passes through)."""
    m = _US_DATE.fullmatch(value)
    if m is None:
        return value
    month, day, year, hour, minute, second, half = m.groups()
    h = int(hour or 0)
    if half is not None and h > 12:
        return value
    if half is not None:
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    try:
        stamp = datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0), tzinfo=UTC)
        return stamp.isoformat()
    except ValueError:
        return value  # not a date: the type check quarantines the line


def _prepare(item: Mapping[str, Any], _context: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    """One file line with canonical keys (unknown headers kept as they are), text stripped, dates in ISO form."""
    row: dict[str, Any] = {}
    for key, value in item.items():
        column = _CANONICAL.get(header_key(key), key)
        text = value.strip() if isinstance(value, str) else value
        if column in _DATES and isinstance(text, str):
            text = _us_date_to_iso(text)
        row[column] = text
    return [row]


PRICE_LIST: Final = Resource(
    table="raw.price_list",
    fields={name.replace("_", ""): name for name, _ in COLUMNS},
    columns=COLUMNS,
    prepare=_prepare,
    required=REQUIRED,
)


# ---- reading the file ------------------------------------------------------------------------------------------


def _cell(value: Any) -> str | None:
    """A spreadsheet or Parquet value as text: Decimal exactly, a float by its shortest round-trip form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decode(data: bytes, name: str) -> str:
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReconError(f"{name}: not UTF-8 or UTF-16 text; save the price list as CSV (UTF-8)") from None


def _read_csv(data: bytes, name: str) -> list[list[str | None]]:
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _read_xlsx(path: Path) -> list[list[str | None]]:
    try:
        import openpyxl
    except ImportError:
        raise ReconError(f"{path.name}: reading .xlsx needs openpyxl in the environment; or save it as CSV") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ReconError(f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        sheet = book.active if book.active is not None else book.worksheets[0]
        rows = [[_cell(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    # a sheet may carry title lines above the header: the header is the first line naming ProductId and UnitPrice
    for i, r in enumerate(rows[:20]):
        keys = {header_key(v) for v in r if v}
        if {"productid", "unitprice"} <= keys:
            return rows[i:]
    return rows


def _read_parquet(path: Path) -> list[list[str | None]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many kinds for a damaged file
        raise ReconError(f"{path.name}: not a readable Parquet file ({type(exc).__name__})") from None
    columns = [[_cell(v) for v in table.column(i).to_pylist()] for i in range(table.num_columns)]
    return [list(table.column_names), *(list(r) for r in zip(*columns, strict=True))]


def read_price_list(path: Path, data: bytes | None = None) -> tuple[list[str], list[dict[str, str | None]]]:
    """The file's headers and its lines as {header: text}; raises ReconError for a missing required column."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReconError(f"{path.name}: unknown price-list format; use .csv, .xlsx or .parquet")
    if fmt == "csv":
        rows = _read_csv(data if data is not None else path.read_bytes(), path.name)
    elif fmt == "xlsx":
        rows = _read_xlsx(path)
    else:
        rows = _read_parquet(path)
    if not rows:
        raise ReconError(f"{path.name}: the file is empty")
    headers = [(h or "").strip() for h in rows[0]]
    _check_headers(headers, path.name)
    lines = []
    for r in rows[1:]:
        if not any(v not in (None, "") and str(v).strip() for v in r):
            continue  # blank line
        lines.append({h: (r[i] if i < len(r) else None) for i, h in enumerate(headers) if h})
    if not lines:
        raise ReconError(f"{path.name}: no price lines below the header")
    return headers, lines


def _check_headers(headers: list[str], name: str) -> None:
    seen: dict[str, str] = {}
    for h in headers:
        column = _CANONICAL.get(header_key(h))
        if column is None:
            continue
        if column in seen:
            raise ReconError(f"{name}: columns {seen[column]!r} and {h!r} both name {HEADERS[column]}")
        seen[column] = h
    missing = [HEADERS[c] for c in REQUIRED if c not in seen]
    if missing:
        raise ReconError(f"{name}: not a license-based price list: missing column(s) {', '.join(missing)}")


# ---- landing ---------------------------------------------------------------------------------------------------


@dataclass
class PriceListLoad:
    """What `load_pricelist` did with one file."""

    path: Path
    sha256: str
    load_id: str
    already_loaded: bool = False
    rows: int = 0
    quarantined: int = 0
    quarantine_reasons: list[tuple[str, str, int]] = field(default_factory=list)  # (column, reason, lines)
    unknown_columns: list[str] = field(default_factory=list)
    markets: int = 0
    currencies: int = 0
    first_start: date | None = None
    last_start: date | None = None


def load_pricelist(
    settings: Settings, path: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> PriceListLoad:
    """Land a price-list file as one unit (its sha256); a file loaded before changes nothing.

    `stg.price_list` is rebuilt from every loaded file by the next `recon reconcile`, as every `stg` table is.
    """
    if not path.is_file():
        raise ReconError(f"{path}: no such file")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    _, lines = read_price_list(path, data)
    with open_writer(settings.db) as con:
        prior = first_row(
            con.execute(
                "SELECT load_id FROM meta.loads WHERE dataset = ? AND unit = ? AND status = 'complete' "
                "ORDER BY finished_at DESC LIMIT 1",
                [DATASET, sha],
            )
        )
        if prior is not None:
            return PriceListLoad(path=path, sha256=sha, load_id=str(prior[0]), already_loaded=True)
        now = clock()
        params = {
            "file": str(path.resolve()),
            "name": path.name,
            "format": FORMATS[path.suffix.lower()],
            "size": len(data),
            "sha256": sha,
            "imported_at": now.isoformat(),
        }
        load_id = begin_load(con, DATASET, sha, "file", params, now)
        try:
            folder = unit_dir(settings.raw_dir, DATASET, sha) / load_id
            raw = write_page(folder, 1, lines)
            table, drift = PRICE_LIST.rows(lines, {}, 1)
            provenance = [
                {
                    "page": 1,
                    "file": str(raw.path.relative_to(settings.raw_dir)),
                    "size": raw.size,
                    "sha256": raw.sha256,
                    "items": raw.lines,
                    "source": {"path": params["file"], "size": len(data), "sha256": sha},
                }
            ]
            write_sidecar(
                folder,
                {
                    "load_id": load_id,
                    "dataset": DATASET,
                    "unit": sha,
                    "table": PRICE_LIST.table,
                    "api": "file",
                    "params": params,
                    "as_of": None,
                    "pages": provenance,
                },
            )
            result = commit_unit(
                con,
                table=PRICE_LIST.table,
                load_id=load_id,
                dataset=DATASET,
                unit=sha,
                rows=table,
                as_of=None,  # a file has no source clock; rating must not run up to the import time
                pages=1,
                provenance=provenance,
                drift=dict(drift),
                finished_at=clock(),
                required=REQUIRED,
            )
        except Exception as exc:
            fail_load(con, load_id, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, clock())
            raise
        prune(unit_dir(settings.raw_dir, DATASET, sha), keep=complete_loads(con, DATASET))  # an earlier failed try
        out = PriceListLoad(
            path=path,
            sha256=sha,
            load_id=load_id,
            rows=result.rows,
            quarantined=result.quarantined,
            unknown_columns=sorted(drift),
        )
        out.quarantine_reasons = [
            (str(c), str(r), int(n))
            for c, r, n in con.execute(
                "SELECT column_name, reason, count(*) FROM meta.quarantine WHERE load_id = ? GROUP BY ALL "
                "ORDER BY 3 DESC, 1",
                [load_id],
            ).fetchall()
        ]
        stats = first_row(
            con.execute(
                "SELECT count(DISTINCT upper(market)), count(DISTINCT upper(currency)), "
                "CAST(min(effective_start_date) AS DATE), CAST(max(effective_start_date) AS DATE) "
                "FROM raw.price_list WHERE load_id = ?",
                [load_id],
            )
        )
        if stats is not None:
            out.markets, out.currencies, out.first_start, out.last_start = stats
    return out

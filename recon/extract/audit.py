"""Audit records (`GET /v1/auditrecords`, audit.md): one unit per UTC day (`audit@2026-11-10`).

The service keeps 90 days and answers at most 30 per request; recon asks one day at a time
(`startDate=endDate=day`, audit.md 14), so the log it keeps grows beyond what the service still holds.
A day is not fetched again once it was fetched a settling period after it ended; later days, and the
current one, are fetched on every run (each replaces its unit).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, timedelta
from typing import Any

import duckdb

from recon.api import Page
from recon.api.paging import ResumePoint, SeekPaginator
from recon.errors import UpstreamError
from recon.extract.base import ExtractContext, Resource, land_unit
from recon.extract.fields import AUDIT_RECORD_FIELDS, json_text, json_value
from recon.store.loads import UnitResult
from recon.store.schema import AUDIT_RECORD

DATASET = "audit"
WINDOW_DAYS = 90  # audit.md 2.2: only the last 90 days can be read (today - 89 is the safe first day)
PAGE_SIZE = 500  # audit.md 2: default and ceiling
# audit.md 12.15: how soon a change reaches the log is undocumented, so a day is settled only when it was
# fetched at least this long after it ended (the previous day is re-read once more on the next run).
SETTLE = timedelta(days=1)
_THREADS = "recon-audit"


def _pairs(value: Any) -> Any:
    """`customizedData` ([{key, value}]) as one object; a key that repeats keeps all its values in a list."""
    if not isinstance(value, list) or not all(isinstance(p, Mapping) for p in value):
        return value
    out: dict[str, Any] = {}
    for pair in value:
        low = {str(k).lower(): v for k, v in pair.items()}
        name = str(low.get("key"))
        if name in out:
            prior = out[name]
            out[name] = [*prior, low.get("value")] if isinstance(prior, list) else [prior, low.get("value")]
        else:
            out[name] = low.get("value")
    return out


def _record_rows(item: Mapping[str, Any], _: Mapping[str, str]) -> Iterable[Mapping[str, Any]]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        low = key.lower()
        if low in ("resourceoldvalue", "resourcenewvalue"):
            flat[key] = json_text(value)  # JSON text on the wire: stored as the JSON it holds
        elif low == "customizeddata":
            flat[key] = json_value(_pairs(value))
        elif low == "participants":
            flat[key] = json_value(value)
        else:
            flat[key] = value
    return [flat]


AUDIT_RECORDS = Resource("raw.audit_records", AUDIT_RECORD_FIELDS, AUDIT_RECORD, _record_rows)


def unit_name(day: date) -> str:
    """The unit of one UTC day."""
    return f"{DATASET}@{day.isoformat()}"


def source_day(pages: Sequence[Page]) -> date:
    """Today by the source's clock: the UTC date of the first answer of this run that carried a `Date` header."""
    for page in pages:
        if page.response.date is not None:
            return page.response.date.astimezone(UTC).date()
    raise UpstreamError("audit: the source sent no Date header, so there is no today to count 90 days back from")


def _settled(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Units of days whose complete load was fetched at least SETTLE after the day ended (UTC session)."""
    rows = con.execute(
        "SELECT DISTINCT unit FROM meta.loads WHERE dataset = ? AND status = 'complete' "
        "AND as_of >= CAST(TRY_CAST(split_part(unit, '@', 2) AS DATE) + 1 AS TIMESTAMPTZ) + to_seconds(?)",
        [DATASET, int(SETTLE.total_seconds())],
    ).fetchall()
    return {str(unit) for (unit,) in rows}


def days_to_fetch(con: duckdb.DuckDBPyConnection, today: date, since: date | None = None) -> list[date]:
    """Days from today - 89 (or `since`, when later) to today, less those already settled."""
    first = today - timedelta(days=WINDOW_DAYS - 1)
    if since is not None and since > first:
        first = since
    settled = _settled(con)
    days = (first + timedelta(days=n) for n in range((today - first).days + 1))
    return [d for d in days if unit_name(d) not in settled]


class DayFetcher:
    """Fetches the pages of the next days a few at a time, ahead of their (sequential) landing."""

    def __init__(self, ctx: ExtractContext, days: Sequence[date], concurrency: int) -> None:
        self.ctx = ctx
        self.days = list(days)
        self.position = {d: n for n, d in enumerate(self.days)}
        self.ahead = 2 * max(1, concurrency)
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=_THREADS)
        self.futures: dict[date, Future[list[Page]]] = {}
        self.submitted = 0

    def __enter__(self) -> DayFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        # Never join from one of the pool's own threads (a thread cannot join itself).
        inside = threading.current_thread().name.startswith(_THREADS)
        self.pool.shutdown(wait=not inside, cancel_futures=True)

    def pages(self, day: date) -> list[Page]:
        """Every page of `day` (fetched already, or now), keeping the next days in flight."""
        position = self.position.get(day, len(self.days))
        while self.submitted < min(len(self.days), position + 1 + self.ahead):
            upcoming = self.days[self.submitted]
            self.futures[upcoming] = self.pool.submit(self._fetch, upcoming)
            self.submitted += 1
        future = self.futures.pop(day, None)
        return future.result() if future is not None else self._fetch(day)

    def _fetch(self, day: date) -> list[Page]:
        return list(_pager(day).pages(self.ctx.client))


def _params(day: date) -> dict[str, Any]:
    return {"startDate": day.isoformat(), "endDate": day.isoformat(), "size": PAGE_SIZE}


def _pager(day: date) -> SeekPaginator:
    return SeekPaginator("/auditrecords", _params(day))


def extract_day(ctx: ExtractContext, day: date, fetcher: DayFetcher | None = None) -> UnitResult:
    """Land one UTC day of audit records (every resource type; seek paging; resumes after a kill)."""

    def source(resume: ResumePoint | None) -> Iterable[Page]:
        if resume is not None:  # an unfinished load continues from its stored next page
            return _pager(day).pages(ctx.client, resume)
        return fetcher.pages(day) if fetcher is not None else _pager(day).pages(ctx.client)

    return land_unit(
        ctx, dataset=DATASET, unit=unit_name(day), resource=AUDIT_RECORDS, source=source, params=_params(day)
    )

"""Extractor acceptance checks on a sandbox world: v1 against v2, the sandbox's own counts, a run under faults.

Starts `recon sandbox serve --size S --seed N` in its own process and runs

1. every dataset through v1 into `v1.duckdb`, and the line-item datasets (recon-billed, recon-unbilled,
   usage-billed, usage-unbilled) with `--api auto` into `v2.duckdb` (v2 Graph exports wherever v2 covers the
   period, v1 for the legacy invoice); rows and the sum of every DECIMAL column per dataset and unit (invoice,
   or currency/period) must be equal, and the line counts must equal the sandbox world's own counts;
2. every dataset with `--api auto` against a second sandbox of the same world with faults on (20% 429 with
   Retry-After 1, 5% 5xx, 5% dropped connections, tokens refused after 100 calls, multi-member gzip and BOM
   blobs), which must end with exactly the fault-free rows (every raw column but `load_id`).

Prints wall times, rows, pages, client retries and the faults the sandbox injected; exits 1 on any mismatch
or failed dataset.

    .venv/bin/python bench/extract_checks.py --size small [--seed 1] [--keep DIR] [--skip DATASET ...]
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
from common import request_log, served

from recon.extract import ExtractSummary, extract
from recon.extract.runner import DATASETS
from recon.settings import Settings, load_settings

LINE_TABLES = {
    "recon-billed": "raw.recon_lines",
    "recon-unbilled": "raw.recon_lines",
    "usage-billed": "raw.usage_lines",
    "usage-unbilled": "raw.usage_lines",
}
# v1 gives credit rates as fractions, v2 as percentages in other columns: compared as one derived sum each
# (`* 0.01` keeps DECIMAL; dividing by 100 would turn the sum into a float).
DERIVED = {
    "raw.usage_lines": (
        "coalesce(rate_of_partner_earned_credit, partner_earned_credit_percentage * 0.01)",
        "coalesce(rate_of_credit, credit_percentage * 0.01)",
    ),
}
FAULTS = ("429:0.2:1", "5xx:0.05", "drop:0.05", "token-expiry:1.0:100", "multigzip:0.5", "bom:0.5")
Key = tuple[str, str]  # (dataset, unit without its @as-of)
Figures = dict[Key, tuple[Any, ...]]


def _world(size: str, seed: int, faults: Sequence[str]) -> list[str]:
    return ["--size", size, "--seed", str(seed), *(f"--fault={f}" for f in faults)]


def settings(info_path: Path, db: Path) -> Settings:
    """Settings for one run: the sandbox's connection, its own database (and data folder), app-only auth."""
    db.parent.mkdir(parents=True, exist_ok=True)
    return load_settings(env={"RECON_SANDBOX": str(info_path), "RECON_DB": str(db)})


def run(name: str, target: Settings, datasets: Sequence[str], api: str) -> tuple[ExtractSummary, float]:
    """One timed extraction; prints its figures per dataset."""
    started = time.monotonic()
    summary = extract(target, datasets=list(datasets), api=api)
    wall = time.monotonic() - started
    pages = loads(target.db)
    print(f"\n{name}: {wall:.1f} s wall, {summary.retries} client retries, api={api}, {target.db.name}")
    print(f"  {'dataset':<20}{'units':>7}{'rows':>12}{'pages':>9}  error")
    for result in summary.results.values():
        print(
            f"  {result.dataset:<20}{result.units:>7}{result.rows:>12}{pages.get(result.dataset, (0, 0))[1]:>9}"
            f"  {result.error or ''}"
        )
    return summary, wall


def loads(db: Path) -> dict[str, tuple[int, int]]:
    """(units, pages) per dataset of the complete loads in `db`."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT dataset, count(*), coalesce(sum(pages), 0) FROM meta.loads WHERE status = 'complete' GROUP BY 1"
        ).fetchall()
    return {str(d): (int(u), int(p)) for d, u, p in rows}


def decimal_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The DECIMAL columns of a raw table, and the derived sums that pair columns of v1 with those of v2."""
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'a' AND table_schema = ? "
        "AND table_name = ? AND data_type LIKE 'DECIMAL%' ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [str(r[0]) for r in rows] + list(DERIVED.get(table, ()))


def unit_figures(con: duckdb.DuckDBPyConnection, db: str, table: str, dataset: str, cols: Sequence[str]) -> Figures:
    """Rows and the exact sum of each DECIMAL column per unit of one dataset (units as loaded, rows or not)."""
    sums = ", ".join(f"sum({c})" for c in cols)
    landed = con.execute(
        f"SELECT split_part(unit, '@', 1), count(*), {sums} FROM {db}.{table} WHERE dataset = ? GROUP BY 1",
        [dataset],
    ).fetchall()
    out: Figures = {(dataset, str(r[0])): tuple(r[1:]) for r in landed}
    units = con.execute(
        f"SELECT split_part(unit, '@', 1) FROM {db}.meta.loads WHERE dataset = ? AND status = 'complete'", [dataset]
    ).fetchall()
    for (unit,) in units:
        out.setdefault((dataset, str(unit)), (0, *([None] * len(cols))))
    return out


def compare_v1_v2(v1: Path, v2: Path, datasets: Sequence[str]) -> list[str]:
    """Rows and DECIMAL sums per line dataset and unit, v1 against v2 (columns one API leaves empty are listed)."""
    problems: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{v1}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{v2}' AS b (READ_ONLY)")
        print("\nv1 against v2 (auto), per dataset: units, rows and DECIMAL sums per unit")
        for dataset in datasets:
            table = LINE_TABLES[dataset]
            cols = decimal_columns(con, table)
            left = unit_figures(con, "a", table, dataset, cols)
            right = unit_figures(con, "b", table, dataset, cols)
            apis = dict(
                con.execute(
                    "SELECT api, count(*) FROM b.meta.loads WHERE dataset = ? AND status = 'complete' GROUP BY 1",
                    [dataset],
                ).fetchall()
            )
            one_sided = [
                c
                for i, c in enumerate(cols, start=1)
                if any(left[k][i] is not None for k in left) != any(right[k][i] is not None for k in right)
            ]
            compared = [i for i, c in enumerate(cols, start=1) if c not in one_sided]
            bad = [
                k
                for k in sorted(left.keys() | right.keys())
                if k not in left
                or k not in right
                or [left[k][0], *(left[k][i] for i in compared)] != [right[k][0], *(right[k][i] for i in compared)]
            ]
            rows = sum(f[0] for f in left.values())
            print(
                f"  {dataset:<16} {len(left)} units, {rows} rows, {len(compared)} DECIMAL sums compared; "
                f"v2 run by api {apis}; {'equal' if not bad else f'{len(bad)} units differ'}"
                + (f"; columns only one API fills (not summed alone): {', '.join(one_sided)}" if one_sided else "")
            )
            if not any(api == "v2" for api in apis):
                problems.append(f"{dataset}: no unit went through v2")
            names = ["rows", *cols]
            for k in bad[:5]:
                a, b = left.get(k), right.get(k)
                if a is None or b is None:
                    problems.append(f"{k[0]} {k[1]}: only {'v2' if a is None else 'v1'} has this unit")
                    continue
                diff = [f"{names[i]} {a[i]} != {b[i]}" for i in (0, *compared) if a[i] != b[i]]
                problems.append(f"{k[0]} {k[1]} (v1 != v2): {'; '.join(diff)}")
    return problems


def world_counts(size: str, seed: int, work: Path) -> dict[Key, int]:
    """The sandbox world's own line counts per line dataset and unit (the world the sandbox serves)."""
    from recon.sandbox.state import SandboxState
    from recon.sandbox.state import Settings as SandboxSettings
    from recon.sandbox.usage_api import has_billed_usage, unbilled_usage_rows

    world = SandboxState(work / "world", SandboxSettings(seed=seed, size=size)).world
    ccy = world.billing_currency
    out: dict[Key, int] = {}
    for inv in [*world.invoices, *world.documents]:
        iid = str(inv["id"])
        count = world.line_count(iid) if iid in world.index else len(world.legacy_lines.get(iid, []))
        out["recon-billed", iid] = count
        if inv in world.invoices and has_billed_usage(world, inv):
            out["usage-billed", iid] = world.usage.rows(inv["periodStart"]).height
    for period in ("current", "previous"):
        month = world.unbilled_month(period)
        out["recon-unbilled", f"{ccy}/{period}"] = world.unbilled_rows(month).height if month else 0
        rows = unbilled_usage_rows(world, ccy, period)[1]
        out["usage-unbilled", f"{ccy}/{period}"] = rows.height if rows is not None else 0
    return out


def compare_world(v1: Path, world: dict[Key, int]) -> list[str]:
    """Line counts of the v1 load per dataset and unit against the world's (units the world has no lines for: 0)."""
    with duckdb.connect(str(v1), read_only=True) as con:
        landed = con.execute(
            "SELECT dataset, split_part(unit, '@', 1), rows FROM meta.loads WHERE status = 'complete' "
            f"AND dataset IN ({', '.join(repr(d) for d in LINE_TABLES)})"
        ).fetchall()
    got = {(str(d), str(u)): int(r) for d, u, r in landed}
    keys = sorted(k for k in got.keys() | world.keys() if got.get(k, 0) or world.get(k, 0))
    bad = [k for k in keys if got.get(k, 0) != world.get(k, 0)]
    print(
        f"\nsandbox world against v1: {len(keys)} units with lines, {sum(world.values())} world lines, "
        f"{sum(got.values())} landed; {'equal' if not bad else f'{len(bad)} units differ'}"
    )
    return [f"{d} {u}: landed {got.get((d, u), 0)} != world {world.get((d, u), 0)}" for d, u in bad[:5]]


def compare_exact(reference: dict[str, Path], target: Path) -> list[str]:
    """Every raw row (all columns but load_id) of each dataset: the faulted run against its fault-free run."""
    problems: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{target}' AS t (READ_ONLY)")
        refs = [alias for alias, path in reference.items() if path.exists()]  # no v2 run: no line dataset chosen
        for alias in refs:
            con.execute(f"ATTACH '{reference[alias]}' AS {alias} (READ_ONLY)")
        tables = [
            str(r[0])
            for r in con.execute(
                "SELECT DISTINCT table_name FROM information_schema.tables WHERE table_catalog = 't' "
                "AND table_schema = 'raw' ORDER BY 1"
            ).fetchall()
        ]
        print("\nfaulted run against the fault-free runs (every raw column but load_id)")
        for table in tables:
            union = " UNION ".join(f"SELECT DISTINCT dataset FROM {db}.raw.{table}" for db in ("t", *refs))
            for (dataset,) in con.execute(f"SELECT * FROM ({union}) ORDER BY 1").fetchall():
                ref = "v2" if dataset in LINE_TABLES else "v1"
                rows = f"SELECT * EXCLUDE (load_id) FROM {{}}.raw.{table} WHERE dataset = '{dataset}'"
                missing, extra = (
                    con.execute(f"SELECT count(*) FROM ({rows.format(x)} EXCEPT ALL {rows.format(y)})").fetchone()
                    for x, y in ((ref, "t"), ("t", ref))
                )
                total = con.execute(f"SELECT count(*) FROM ({rows.format('t')})").fetchone()
                same = missing == (0,) and extra == (0,)
                print(f"  raw.{table:<22} {dataset:<16} {total[0] if total else 0:>10} rows  {'equal' if same else ''}")
                if not same:
                    problems.append(f"raw.{table} {dataset}: {missing} fault-free rows missing, {extra} extra rows")
    return problems


def fault_figures(log: list[dict[str, Any]]) -> None:
    """Requests, injected faults by kind, and 401s from the faulted sandbox's request log."""
    kinds = Counter(str(r["fault"]).split(":")[0] for r in log if r.get("fault"))
    statuses = Counter(int(r["status"] or 0) for r in log)
    tokens = sum(1 for r in log if r["path"].endswith("/oauth2/v2.0/token"))
    print(
        f"  sandbox: {len(log)} requests, {tokens} to the token endpoint, injected {dict(sorted(kinds.items()))}, "
        f"answers 401: {statuses.get(401, 0)}, 429: {statuses.get(429, 0)}, 5xx: "
        f"{sum(n for s, n in statuses.items() if s >= 500)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="small", choices=("tiny", "small", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep the databases (default: a temp dir).")
    parser.add_argument(
        "--skip", action="append", default=[], choices=DATASETS, help="Leave a dataset out of the runs (repeatable)."
    )
    args = parser.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows while the runs go on, even into a file
    with tempfile.TemporaryDirectory(prefix="recon-checks-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return checks(work, args.size, args.seed, [d for d in DATASETS if d not in args.skip])


def checks(work: Path, size: str, seed: int, datasets: Sequence[str] = DATASETS) -> int:
    """Run both checks in `work`; 0 when everything matched."""
    dbs = {name: work / name / f"{name}.duckdb" for name in ("v1", "v2", "faults")}  # raw files beside each
    for db in dbs.values():
        if db.parent.exists():
            shutil.rmtree(db.parent)
    failed: list[str] = []
    print(f"extractor checks on the {size} world, seed {seed}, in {work}")
    lines = [d for d in datasets if d in LINE_TABLES]
    with served(work / "sandbox", _world(size, seed, ())):
        info_path = work / "sandbox" / "sandbox.json"
        for name, chosen, api in (("v1", datasets, "v1"), ("v2", lines, "auto")):
            if not chosen:  # no line dataset left to compare (an empty choice would mean every dataset)
                continue
            summary, _ = run(f"run {name}", settings(info_path, dbs[name]), chosen, api)
            failed += [f"{name} {r.dataset}: {r.error}" for r in summary.failed]
    if lines:
        failed += compare_v1_v2(dbs["v1"], dbs["v2"], lines)
        failed += compare_world(dbs["v1"], world_counts(size, seed, work))
    with served(work / "sandbox-faults", _world(size, seed, FAULTS)) as (_, info):
        summary, _ = run(
            f"run with faults {' '.join(FAULTS)}",
            settings(work / "sandbox-faults" / "sandbox.json", dbs["faults"]),
            datasets,
            "auto",
        )
        failed += [f"faults {r.dataset}: {r.error}" for r in summary.failed]
        fault_figures(request_log(info))
    failed += compare_exact({"v1": dbs["v1"], "v2": dbs["v2"]}, dbs["faults"])
    print("\n" + ("all checks passed" if not failed else "MISMATCH:\n  " + "\n  ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The reconciliation engine at scale: a generated month of 10M reconciliation lines against 1M subscriptions.

1. Writes a DuckDB file whose `stg` tables hold the month (`engine_scale_data.py`: SQL only, seeded), or reuses
   one written before with the same sizes and seed (`--reuse`).
2. Runs `recon.reconcile.engine.reconcile(settings, stage=False)` (the `stg` tables as they are) in a fresh
   process and measures its wall time, from populated `stg` to written findings, and the process's peak memory
   (`VmHWM` from `/proc/self/status`; psutil is not installed). Targets: <= 15 s and <= 6 GiB.
3. Runs it again in another fresh process with every stage timed (`--no-stages` skips this): each stage's lazy
   result is collected where the engine hands it on and each rule family runs on its own, so their sum is close
   to the plain run's time, not equal to it. The hooks replace the engine's module names in that process only.

Prints the figures, the stages and the row counts; exits 1 when a target is missed.

    .venv/bin/python bench/engine_scale.py [--lines 10000000] [--subscriptions 1000000] [--seed 1] [--db PATH]
        [--keep] [--reuse] [--runs 1] [--no-stages]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from common import proc_status
from engine_scale_data import generate

MAX_WALL_S = 15.0
MAX_PEAK = 6 * 1024**3
FAMILIES = {"charges": "R01-R03, R06, R07", "lifecycle": "R04, R05, R11", "unbilled": "R08", "tieout": "R09",
            "usage": "R10, R13", "currency": "R12"}  # fmt: skip


# ---- the child processes ------------------------------------------------------------------------------------------


def _settings(db: Path) -> Any:
    from recon.settings import load_settings

    return load_settings(env={}, overrides={"db": str(db), "data_dir": str(db.parent / "data")})


def _run_plain(db: Path) -> dict[str, Any]:
    """reconcile(stage=False) as the CLI runs it."""
    from recon.reconcile.engine import reconcile

    settings = _settings(db)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = reconcile(settings, stage=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "findings": summary.findings,
        "by_rule": [list(map(str, r)) for r in summary.by_rule],
    }


class Timeline:
    """Stages as (name, seconds, VmHWM after) in the order they ran, and when the last one ended."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float, int]] = []
        self.last = time.perf_counter()

    def record(self, name: str, started: float) -> None:
        now = time.perf_counter()
        self.stages.append((name, now - started, proc_status(os.getpid(), "VmHWM")))
        self.last = now
        print(f"{name}: {now - started:.2f} s, peak {_gib(self.stages[-1][2])}", file=sys.stderr, flush=True)

    def gap(self, name: str) -> None:
        """What ran since the last stage (engine code between the hooks) as its own stage."""
        self.record(name, self.last)


def _collected(value: Any) -> Any:
    """A stage's result with every lazy frame in it collected (and handed on lazily again)."""
    if isinstance(value, pl.LazyFrame):
        return value.collect().lazy()
    if isinstance(value, tuple):
        return tuple(_collected(v) for v in value)
    return value


def _hook(timeline: Timeline, module: Any, attr: str, name: str, collect: bool = True, before: str = "") -> None:
    """Replace `module.attr` by a timed version (results collected when `collect`)."""
    original: Callable[..., Any] = getattr(module, attr)

    def timed(*args: Any, **kwargs: Any) -> Any:
        if before:
            timeline.gap(before)
        started = time.perf_counter()
        out = original(*args, **kwargs)
        out = _collected(out) if collect else out
        timeline.record(name, started)
        return out

    setattr(module, attr, timed)


def _run_stages(db: Path) -> dict[str, Any]:
    """reconcile(stage=False) with every stage timed through hooks on the engine's module names."""
    from recon.reconcile import catalogue, engine, ledgers
    from recon.reconcile.frames import empty_findings

    timeline = Timeline()
    hooks = [
        ("_frame", "read stg tables (subscriptions, orders, usage, invoices)", False, ""),
        ("rule_lines", "read lines: billed + last snapshots", False, ""),
        ("rate_counts", "read lines: rates counted", False, ""),
        ("line_markets", "read lines: customer countries", False, ""),
        ("audit_lines", "read lines: the ones audits can flag", False, ""),
        ("audit_staging", "staging audits (meta.audits)", False, ""),
        ("fx_rates", "exchange rates (fx)", True, ""),
        ("tieout", "invoice tie-out", True, ""),
        ("subscription_events", "events (order lines -> rater events)", True, ""),
        ("rateable", "rateable (which histories rate)", True, ""),
        ("customer_markets", "price list: customer markets", True, ""),
        ("renewal_events", "price list: unpriced renewals", True, ""),
        ("expected_charges", "shadow rating (expected charges)", True, ""),
        ("license_match", "license match", True, "expected: the data's months; other frames"),
        ("credit_pairs", "credit pairs", True, ""),
        ("r00_no_history", "rule R00", True, ""),
        ("ledger_frames", "ledgers: accrual accuracy, credit pairs", False, "findings (concat)"),
        ("_write_findings", "write findings", False, "write tie-out and expected charges"),
        ("write_ledgers", "write ledgers (drift built in DuckDB)", False, ""),
    ]
    for attr, name, collect, before in hooks:
        _hook(timeline, engine, attr, name, collect, before)
    _hook(timeline, ledgers, "build_drift", "  of which the drift ledger", False)

    def rules(frames: Any, chosen: Any = catalogue.RULES) -> pl.LazyFrame:
        parts = [empty_findings()]
        for family in FAMILIES:
            started = time.perf_counter()
            for rule in (r for r in chosen if r.family == family and r.runnable(frames)):
                parts.append(rule.fn(frames).collect().lazy())
            timeline.record(f"rules {FAMILIES[family]} ({family})", started)
        return pl.concat(parts, how="vertical")

    engine.run_rules = rules  # type: ignore[attr-defined]
    settings = _settings(db)
    wall = time.perf_counter()
    timeline.last = wall
    engine.reconcile(settings, stage=False)
    timeline.gap("commit and summary")
    return {"wall_s": time.perf_counter() - wall, "stages": timeline.stages}


def child(mode: str, db: Path) -> None:
    """Run the engine once in this (fresh) process and print its figures as one JSON line."""
    out = _run_plain(db) if mode == "plain" else _run_stages(db)
    out["vm_hwm"] = proc_status(os.getpid(), "VmHWM")
    print(json.dumps(out))


# ---- the parent -------------------------------------------------------------------------------------------------


def _spawn(mode: str, db: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=db.parent, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _counts(db: Path) -> dict[str, Any]:
    """Row counts of the inputs and of what the engine wrote."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS db (READ_ONLY)")
        con.execute("USE db")

        def one(query: str) -> Any:
            return con.execute(query).fetchall()[0][0]

        return {
            "billed lines": one("SELECT count(*) FROM stg.recon_lines WHERE billing_state = 'billed'"),
            "unbilled lines": one("SELECT count(*) FROM stg.recon_lines WHERE billing_state = 'unbilled'"),
            "unbilled snapshots": one(
                "SELECT count(DISTINCT unit) FROM stg.recon_lines WHERE billing_state = 'unbilled'"
            ),
            "subscriptions": one("SELECT count(*) FROM stg.subscriptions"),
            "order lines": one("SELECT count(*) FROM stg.orders"),
            "daily usage rows": one("SELECT count(*) FROM stg.usage_lines"),
            "expected charges": one("SELECT count(*) FROM recon.expected_charges"),
            "drift ledger rows": one("SELECT count(*) FROM recon.drift"),
            "credit pairs": one("SELECT count(*) FROM recon.credit_pairs"),
            "findings": one("SELECT count(*) FROM recon.findings"),
        }
    finally:
        con.close()


def _prepare(args: argparse.Namespace, db: Path) -> tuple[float, dict[str, Any]]:
    """Generate the month into `db` (or reuse it); seconds taken and what was generated."""
    wanted = {"lines": args.lines, "subscriptions": args.subscriptions, "seed": args.seed}
    sidecar = db.with_suffix(".json")
    if args.reuse and db.exists() and sidecar.exists():
        kept = json.loads(sidecar.read_text())
        if kept["params"] == wanted:
            return 0.0, kept
    for stale in (db, db.with_name(db.name + ".wal"), sidecar):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    month = generate(db, subscriptions=args.subscriptions, lines=args.lines, seed=args.seed)
    seconds = time.perf_counter() - started
    kept = {"params": wanted, "pulls": [str(d) for d in month.pulls], "rows": month.rows, "cases": month.cases,
            "generate_s": seconds}  # fmt: skip
    sidecar.write_text(json.dumps(kept))
    return seconds, kept


def _merged(stages: list[list[Any]]) -> dict[str, tuple[float, int]]:
    """Stages of the same name added up (seconds, the peak after the last), in the order they first ran."""
    out: dict[str, tuple[float, int]] = {}
    for name, seconds, hwm in stages:
        total = out.get(name, (0.0, 0))[0]
        out[name] = (total + seconds, hwm)
    return out


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def main() -> int:
    """Generate, run, report; 0 when both targets hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="reconciliation lines to generate (about)")
    parser.add_argument("--subscriptions", type=int, default=1_000_000, help="seat subscriptions to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="DuckDB file to write (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the DuckDB file (and its sizes, in PATH.json)")
    parser.add_argument("--reuse", action="store_true", help="reuse --db when it holds the same sizes and seed")
    parser.add_argument("--runs", type=int, default=1, help="plain runs, each in a fresh process (the fastest counts)")
    parser.add_argument("--no-stages", dest="stages", action="store_false", help="skip the run with stages timed")
    parser.add_argument("--child", choices=("plain", "stages"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="engine-scale-")) if args.db is None else args.db.parent
    db = args.db or folder / "month.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        generated_s, month = _prepare(args, db)
        load = os.getloadavg()
        runs = [_spawn("plain", db) for _ in range(args.runs)]
        load_after = os.getloadavg()
        staged = _spawn("stages", db) if args.stages else None
        counts = _counts(db)
    finally:
        if not args.keep:
            if args.db is None:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                for path in (db, db.with_name(db.name + ".wal"), db.with_suffix(".json")):
                    path.unlink(missing_ok=True)
    best = min(runs, key=lambda r: r["wall_s"])
    peak = max(r["vm_hwm"] for r in runs)
    wall_ok, peak_ok = best["wall_s"] <= MAX_WALL_S, peak <= MAX_PEAK
    rows: list[tuple[str, str, str]] = [
        ("machine", f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}", ""),
        ("polars / duckdb", f"{pl.__version__} / {duckdb.__version__}", ""),
        ("generated", f"{generated_s:.1f} s" if generated_s else "reused", f"seed {args.seed}"),
        ("unbilled pulls", ", ".join(d[5:] for d in month["pulls"]), ""),
        *((name, f"{value:,}", "") for name, value in counts.items()),
        (
            f"engine wall (best of {len(runs)})",
            f"{best['wall_s']:.1f} s",
            "ok" if wall_ok else f"MISSED (> {MAX_WALL_S:.0f} s)",
        ),
        ("engine CPU", f"{best['cpu_s']:.1f} s", "all threads"),
        ("peak memory (VmHWM)", _gib(peak), "ok" if peak_ok else f"MISSED (> {_gib(MAX_PEAK)})"),
        ("load average (1 min) before / after", f"{load[0]:.2f} / {load_after[0]:.2f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"engine at scale: {args.lines:,} lines asked, {args.subscriptions:,} subscriptions, seed {args.seed}")
    for name, value, verdict in rows:
        print(f"  {name:<{width}}  {value:<40} {verdict}")
    if staged:
        print(f"stages (one run, each collected on its own: {staged['wall_s']:.1f} s, peak {_gib(staged['vm_hwm'])})")
        for name, (seconds, hwm) in _merged(staged["stages"]).items():
            print(f"  {name:<58} {seconds:7.2f} s   peak so far {_gib(hwm)}")
    print("findings: " + ", ".join(f"{r[0]} {r[2]}" for r in best["by_rule"]))
    missed = [n for n, ok in (("wall time", wall_ok), ("peak memory", peak_ok)) if not ok]
    if missed:
        print("missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

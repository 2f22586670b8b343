"""Measured accuracy of the rules: `recon demo`'s fixed walk per seed, then `recon evaluate`, pooled over seeds.

For every seed, in its own process: starts the sandbox at the world's first month and walks it to its `today`
exactly as `recon demo` does (`recon.demo.run_demo`: unbilled pulls on days 10 and 20 and on each month's last
day, close, billed pull; then reconcile), writes the answer key of the same seed, size and `today`
(`recon sandbox answer-key`), and scores the findings with `recon evaluate`'s definition
(`recon.reconcile.evaluate`). Per seed it keeps `SEED/result.json`: per rule cases, matched cases, findings above
`info` and matching findings, the cases no finding matched and the findings that match no case, and timings.
A re-run skips seeds whose result is there (`--fresh` runs them again).

Pooled over the seeds, per rule: cases, recall, findings, precision. Also a clean world (one seed with
`--inject-rate all=0`) must give no finding above `info`. Exits 1 when a rule is below `--target` in precision
or recall, has fewer than `--min-cases` pooled cases, a seed failed, or the clean world has a finding.

    .venv/bin/python bench/accuracy.py --size small --seeds 1-20 --jobs 2 [--out DIR] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RULES = [f"R{n:02d}" for n in range(1, 14)]
FAST = {"export_retry_after_s": "0"}  # exports answer at once; the world is the same (tests/test_accuracy.py)
CLEAN = {"all": 0.0}
COLUMNS = ("rule", "severity", "customer_id", "subscription_id", "order_id", "invoice_number", "period")


def parse_seeds(text: str) -> list[int]:
    """`1-20`, `1,4,7` or `1-3,9` as a sorted list of seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        seeds.update(range(int(low), int(high or low) + 1))
    return sorted(seeds)


# --- one seed (runs in its own process) ---------------------------------------------------------------------


def _run_one(root: Path, seed: int, size: str, clean: bool, keep: str) -> dict[str, Any]:
    from recon.demo import run_demo
    from recon.sandbox import write_answer_key
    from recon.walk import Step

    rates = CLEAN if clean else None
    root.mkdir(parents=True, exist_ok=True)
    (root / "recon.toml").write_text(f'data_dir = "{root / "data"}"\n')
    db = root / "recon.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal"), root / "data"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    started = time.monotonic()
    steps: list[tuple[str, str, float]] = []

    def on_step(step: Step) -> None:
        steps.append((step.day.isoformat(), step.action, round(time.monotonic() - started, 1)))
        print(f"seed {seed}: {steps[-1][2]:7.1f} s  {step.day} {step.action}", flush=True)

    result = run_demo(
        config=root / "recon.toml", db=db, seed=seed, size=size, switches=FAST, inject_rates=rates, on_step=on_step
    )
    walked = time.monotonic() - started
    key_path = write_answer_key(root / "key.parquet", seed, size, switches=FAST, inject_rates=rates)
    out = {
        "seed": seed,
        "size": size,
        "clean": clean,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": _code_version(),
        "seconds": round(time.monotonic() - started, 1),
        "walk_and_reconcile_s": round(walked, 1),
        "steps": steps,
        "extract_failed": [f"{r.dataset}: {r.error}" for r in result.extracted.failed],
        **_score(db, key_path),
    }
    if keep != "all":
        shutil.rmtree(root / "data", ignore_errors=True)
    if keep == "none":
        for path in (db, db.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
    return out


def _code_version() -> str:
    """The commit of the code that ran (with `+changes` when `recon/` or `bench/` differ from it), or `unknown`."""
    here = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "recon", "bench"], cwd=here, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty.stdout.strip() else "")


def _score(db: Path, key_path: Path) -> dict[str, Any]:
    """`recon evaluate`'s table for the findings in `db`, with the cases no finding matched and the strays."""
    import polars as pl

    from recon.reconcile.evaluate import KEYS, evaluate, matches, read_key
    from recon.store import reader

    key = read_key(key_path)
    with reader(db) as con:
        findings = con.sql(
            f"SELECT rule, severity, {', '.join(KEYS)}, amount_at_stake, explanation FROM recon.findings "
            "ORDER BY finding_id"
        ).pl()
    table = evaluate(findings, key)
    scored = findings.filter(pl.col("severity") != "info").with_row_index("fid")
    pairs = matches(scored.select("fid", "rule", *KEYS), key)
    found = pairs.filter(pl.col("rule_id") == pl.col("case_rule")).select("case_id").unique()
    misses = key.join(found, on="case_id", how="anti")
    strays = scored.join(pairs.select("fid").unique(), on="fid", how="anti").drop("fid")
    return {
        "findings_by_severity": dict(findings.group_by("severity").len().iter_rows()),
        "table": table.to_dicts(),
        "misses": misses.to_dicts(),
        "strays": [{k: str(v) if v is not None else None for k, v in row.items()} for row in strays.to_dicts()],
    }


def _rescore(root: Path) -> dict[str, Any]:
    """Reconcile a kept database again with the current engine and score it (the walk is not repeated)."""
    from recon.reconcile import reconcile
    from recon.settings import load_settings

    out = json.loads((root / "result.json").read_text())
    db = root / "recon.duckdb"
    started = time.monotonic()
    reconcile(load_settings(root / "recon.toml", overrides={"db": db}))
    out.update(_score(db, root / "key.parquet"))
    out["rescored"] = datetime.now(UTC).isoformat(timespec="seconds")
    out["rescore_s"] = round(time.monotonic() - started, 1)
    return out


def _child(args: argparse.Namespace) -> int:
    root = Path(args.out) / args.one
    seed = int(args.one.split("-")[-1])
    clean = args.one.startswith("clean")
    out = _rescore(root) if args.rescore else _run_one(root, seed, args.size, clean, args.keep)
    tmp = root / "result.json.tmp"
    tmp.write_text(json.dumps(out, indent=1, default=str))
    tmp.replace(root / "result.json")
    return 0


# --- the whole run ------------------------------------------------------------------------------------------


def _launch(name: str, args: argparse.Namespace) -> tuple[str, int, float]:
    """Run one seed in a child process (its log in NAME/log.txt)."""
    root = Path(args.out) / name
    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--one", name, "--size", args.size, "--out", args.out, "--keep", args.keep]
    command += ["--rescore"] if args.rescore else []
    started = time.monotonic()
    with (root / "log.txt").open("w") as log:
        print(f"{name}: started", flush=True)
        code = subprocess.call(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    took = time.monotonic() - started
    status = "done" if code == 0 else f"FAILED (exit {code}, see {root / 'log.txt'})"
    print(f"{name}: {status} in {took:.0f} s", flush=True)
    return name, code, took


def _pool(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, int]] = {}
    for result in results:
        for row in result["table"]:
            t = totals.setdefault(row["rule"], {"cases": 0, "recalled": 0, "findings": 0, "matched": 0})
            for k in t:
                t[k] += int(row[k])
    rows = []
    for rule in sorted(set(totals) | set(RULES)):
        t = totals.get(rule, {"cases": 0, "recalled": 0, "findings": 0, "matched": 0})
        rows.append(
            {
                "rule": rule,
                **t,
                "recall": t["recalled"] / t["cases"] if t["cases"] else None,
                "precision": t["matched"] / t["findings"] if t["findings"] else None,
            }
        )
    return rows


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _print_table(rows: Sequence[dict[str, Any]]) -> None:
    print(f"{'rule':<5} {'cases':>6} {'recalled':>8} {'recall':>7} {'findings':>8} {'matched':>7} {'precision':>9}")
    for r in rows:
        print(
            f"{r['rule']:<5} {r['cases']:>6} {r['recalled']:>8} {_fmt(r['recall']):>7} {r['findings']:>8} "
            f"{r['matched']:>7} {_fmt(r['precision']):>9}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="small", choices=("tiny", "small"))
    parser.add_argument("--seeds", default="1-20", help="Seeds to pool, e.g. 1-20 or 1,3,5 (default 1-20).")
    parser.add_argument("--jobs", type=int, default=2, help="Seeds walked side by side (default 2).")
    parser.add_argument("--out", default=None, help="Folder of per-seed results (default data/accuracy-SIZE).")
    parser.add_argument("--fresh", action="store_true", help="Run every seed again, ignoring kept results.")
    parser.add_argument("--clean-seed", type=int, default=1, help="Seed of the clean world (all=0) check.")
    parser.add_argument("--no-clean", action="store_true", help="Skip the clean-world check.")
    parser.add_argument("--target", type=float, default=0.99, help="Precision and recall every rule needs.")
    parser.add_argument("--min-cases", type=int, default=20, help="Pooled cases every rule needs (default 20).")
    parser.add_argument(
        "--keep",
        default="db",
        choices=("none", "db", "all"),
        help="What stays of a seed besides result.json: nothing, the DuckDB file (default), or the raw files too.",
    )
    parser.add_argument("--json", action="store_true", help="Also print the pooled table as JSON.")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="Reconcile the kept databases again with the current engine and score them (no walk; needs --keep db).",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one seed (`seed-N` or `clean-N`)
    args = parser.parse_args(argv)
    args.out = str(Path(args.out or f"data/accuracy-{args.size}").resolve())
    if args.one:
        return _child(args)

    started = time.monotonic()
    names = [f"seed-{s}" for s in parse_seeds(args.seeds)] + ([] if args.no_clean else [f"clean-{args.clean_seed}"])
    out = Path(args.out)
    if args.rescore:
        todo = [n for n in names if (out / n / "result.json").exists() and (out / n / "recon.duckdb").exists()]
    else:
        todo = [n for n in names if args.fresh or not (out / n / "result.json").exists()]
    print(f"{len(names) - len(todo)} of {len(names)} runs kept from {out}; running {len(todo)} with {args.jobs} job(s)")
    # the clean world first, then the seeds in order
    todo.sort(key=lambda n: (not n.startswith("clean"), int(n.split("-")[1])))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        launched = list(pool.map(lambda n: _launch(n, args), todo))
    failed = [name for name, code, _ in launched if code != 0]

    results = {
        n: json.loads((out / n / "result.json").read_text()) for n in names if (out / n / "result.json").exists()
    }
    seeds = [r for n, r in results.items() if n.startswith("seed")]
    failed += [n for n, r in results.items() if r["extract_failed"]]
    rows = _pool(seeds)
    print(f"\nPooled over {len(seeds)} seed(s) of {args.size} ({', '.join(str(r['seed']) for r in seeds)}):")
    _print_table(rows)
    low = [
        r["rule"]
        for r in rows
        if r["rule"] in RULES
        and (r["cases"] < args.min_cases or (r["recall"] or 0) < args.target or (r["precision"] or 0) < args.target)
    ]
    low += [r["rule"] for r in rows if r["rule"] not in RULES and r["findings"] and (r["precision"] or 0) < args.target]
    clean_ok = True
    if not args.no_clean:
        clean = results.get(f"clean-{args.clean_seed}")
        if clean is None:
            clean_ok = False
            print("\nClean world: no result")
        else:
            above = {s: n for s, n in clean["findings_by_severity"].items() if s != "info"}
            clean_ok = not above
            print(
                f"\nClean world (seed {args.clean_seed}, all=0): findings by severity {clean['findings_by_severity']}"
                f" -> {'no finding above info' if clean_ok else 'FINDINGS ABOVE INFO'}"
            )
    codes = sorted({str(r.get("code", "unknown")) for r in results.values()})
    print(f"Code: {', '.join(codes)}" + ("  (results of more than one version are pooled)" if len(codes) > 1 else ""))
    per_seed = [r["seconds"] for r in results.values()]
    if per_seed:
        print(f"Per run: {min(per_seed):.0f}-{max(per_seed):.0f} s (mean {sum(per_seed) / len(per_seed):.0f} s)")
    print(f"Wall time: {time.monotonic() - started:.0f} s for {len(todo)} run(s) with {args.jobs} job(s)")
    if args.json:
        print(json.dumps(rows, indent=1))
    if failed:
        print(f"Failed runs: {', '.join(failed)}")
    if low:
        print(f"Below target ({args.target} precision and recall, {args.min_cases} cases): {', '.join(low)}")
    return 1 if failed or low or not clean_ok else 0


if __name__ == "__main__":
    sys.exit(main())

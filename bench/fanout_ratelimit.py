"""Fan-out under the rate limit: subscriptions and orders for 2,000 customers behind 100 ms of latency.

Starts `recon sandbox serve --switch customers=N --fault latency:1.0:S` (server-side buckets at their defaults,
500 requests a minute with a burst of 50 per tenant and family), times `recon extract --datasets
subscriptions,orders` against it, then counts the calls per family and the 429 answers in the sandbox's request
log. The floor is the time the server's limit imposes on the busiest family: its bucket starts full, so N calls
need at least (N - burst) / rate. Exits 1 on any 429 or when the wall time exceeds 1.2 x the floor.

    .venv/bin/python bench/fanout_ratelimit.py [--customers 2000] [--latency 0.1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import request_log, served

from recon.api.ratelimit import family
from recon.store import reader

PER_MINUTE, BURST = 500, 50  # the sandbox's defaults (rate_limit_per_min, rate_limit_burst)
MAX_RATIO = 1.2


def unit_times(db: Path) -> list[tuple[str, float, float]]:
    """(dataset, seconds from the first unit's start to this unit's start and to its commit), in commit order."""
    with reader(db) as con:
        rows = con.execute(
            "SELECT dataset, epoch(started_at) AS s, epoch(finished_at) AS f FROM meta.loads "
            "WHERE status = 'complete' ORDER BY f"
        ).fetchall()
    first = min(r[1] for r in rows)
    return [(str(d), s - first, f - first) for d, s, f in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1, help="Seconds added to every sandbox answer.")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.customers <= BURST:
        parser.error(f"--customers must exceed the burst of {BURST}, or the limits impose no floor to compare with")
    sandbox_args = ["--switch", f"customers={args.customers}", "--fault", f"latency:1.0:{args.latency}"]
    with (
        tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp,
        served(Path(tmp) / "sandbox", sandbox_args) as (
            _,
            info,
        ),
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
        env.update(RECON_SANDBOX=str(Path(tmp) / "sandbox" / "sandbox.json"), RECON_DB=f"{tmp}/recon.duckdb")
        command = [sys.executable, "-m", "recon", "extract", "--datasets", "subscriptions,orders"]
        command += ["--concurrency", str(args.concurrency)]
        started = time.perf_counter()
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        log = request_log(info)
        units = unit_times(Path(tmp) / "recon.duckdb") if run.returncode == 0 else []
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
        print(f"recon extract failed (exit {run.returncode})", file=sys.stderr)
        return 1
    calls = Counter(family(r["path"]) or "other" for r in log)
    throttled = sum(1 for r in log if r["status"] == 429)
    busiest = max(n for fam, n in calls.items() if fam != "other")
    floor = max(0, busiest - BURST) / PER_MINUTE * 60
    plain = busiest / PER_MINUTE * 60
    ratio = wall / floor
    print(f"customers {args.customers}, latency {args.latency} s, concurrency {args.concurrency}")
    for fam, n in sorted(calls.items()):
        print(f"  {fam:<14} {n:>6} calls")
    print(f"429 answers     {throttled}")
    for dataset, began, committed in units:
        print(f"  {dataset:<14} unit started {began:6.1f} s, committed {committed:6.1f} s (from the first start)")
    print(f"wall time       {wall:.1f} s")
    print(
        f"floor           {floor:.1f} s  (({busiest} - {BURST} burst) calls / {PER_MINUTE} per minute; without the "
        f"burst {plain:.1f} s, ratio {wall / plain:.3f})"
    )
    print(f"ratio           {ratio:.3f}  (limit {MAX_RATIO})")
    ok = throttled == 0 and ratio <= MAX_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

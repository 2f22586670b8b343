"""Measured accuracy on the `tiny` world: the demo's fixed walk, then `recon evaluate` against the answer key."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from recon.cli import cli
from recon.demo import DemoResult, run_demo
from recon.reconcile.evaluate import evaluate_db
from recon.sandbox import write_answer_key
from recon.walk import Step, plan

FAST = {"export_retry_after_s": "0"}  # the walk's exports answer at once; the world is the same
RULES = [f"R{n:02d}" for n in range(1, 14)]


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    root = tmp_path_factory.mktemp("accuracy")
    (root / "recon.toml").write_text(f'data_dir = "{root / "data"}"\n')
    result = run_demo(config=root / "recon.toml", db=root / "recon.duckdb", seed=1, size="tiny", switches=FAST)
    key = root / "key.parquet"
    write_answer_key(key, seed=1, size="tiny", switches=FAST)
    return result, key


def test_the_walk_pulls_unbilled_three_times_a_month_and_closes_each_invoiced_month() -> None:
    from datetime import date

    steps = plan(date(2025, 8, 1), date(2025, 11, 10), frozenset({date(2025, 8, 1), date(2025, 9, 1)}))
    assert steps[:4] == [
        Step(date(2025, 8, 10), "unbilled"),
        Step(date(2025, 8, 20), "unbilled"),
        Step(date(2025, 8, 31), "unbilled"),
        Step(date(2025, 8, 31), "close"),
    ]
    assert Step(date(2025, 10, 31), "close") not in steps  # October is not invoiced in this world
    assert steps[-2:] == [Step(date(2025, 11, 10), "unbilled"), Step(date(2025, 11, 10), "final")]


def test_every_rule_has_cases_and_tiny_scores_precision_and_recall_of_one(walked: tuple[DemoResult, Path]) -> None:
    result, key = walked
    assert not result.extracted.failed
    table = evaluate_db(result.settings, key)
    with_cases = set(table.filter(pl.col("cases") > 0)["rule"].to_list())
    assert set(RULES) <= with_cases, f"rules without cases: {sorted(set(RULES) - with_cases)}"
    off = table.filter((pl.col("recall") != 1.0) | (pl.col("precision").fill_null(1.0) != 1.0))
    assert off.is_empty(), f"not exact:\n{off}"


def test_evaluate_command_prints_the_same_table_as_json(walked: tuple[DemoResult, Path]) -> None:
    result, key = walked
    out = CliRunner().invoke(
        cli, ["evaluate", "--answer-key", str(key), "--json"], env={"RECON_DB": str(result.settings.db)}
    )
    assert out.exit_code == 0, out.output
    assert '"R08"' in out.output and '"precision": 1.0' in out.output

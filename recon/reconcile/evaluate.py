"""`recon evaluate`: precision and recall of the findings against a sandbox answer key.

A finding's rule id is the text of `rule` before the first `-`. A finding matches a case when its rule id is the
case's `rule` or in its `also`, and every key the case names (non-null) equals the finding's. Only findings above
`info` are scored. Recall per rule: cases of that primary rule matched by a finding with that rule id. Precision per
rule: findings with that rule id that match some case.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recon.errors import ReconError
from recon.settings import Settings
from recon.store import reader

KEYS = ("customer_id", "subscription_id", "order_id", "invoice_number", "period")


def read_key(path: Path) -> pl.DataFrame:
    """The answer key from a Parquet or CSV file."""
    if not path.exists():
        raise ReconError(f"answer key {path} does not exist")
    if path.suffix.lower() == ".parquet":
        key = pl.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        key = pl.read_csv(path, infer_schema=False)
    else:
        raise ReconError(f"answer key {path}: use a .parquet or .csv file")
    missing = {"case_id", "rule", "also", *KEYS} - set(key.columns)
    if missing:
        raise ReconError(f"answer key {path} lacks column(s) {', '.join(sorted(missing))}")
    return key.select(
        pl.col("case_id").cast(pl.String),
        pl.col("rule").cast(pl.String),
        pl.col("also").cast(pl.String).fill_null(""),
        *(pl.col(k).cast(pl.String).replace("", None) for k in KEYS if k != "period"),
        pl.col("period").cast(pl.String).str.slice(0, 10).replace("", None).alias("period"),
    )


def matches(findings: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    """Every (finding, case) pair that matches: rule id allowed for the case and every named key equal."""
    f = findings.with_columns(
        pl.col("rule").str.split("-").list.first().alias("rule_id"),
        pl.col("period").cast(pl.String),
    )
    pairs = f.join(key.rename({k: f"case_{k}" for k in (*KEYS, "rule")}), how="cross")
    allowed = (pl.col("rule_id") == pl.col("case_rule")) | pl.col("also").str.split(",").list.contains(
        pl.col("rule_id")
    )
    same = [pl.col(f"case_{k}").is_null() | (pl.col(f"case_{k}") == pl.col(k)) for k in KEYS]
    return pairs.filter(allowed & pl.all_horizontal(same))


def evaluate(findings: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    """Per rule: cases, recall, findings, precision (findings above info only)."""
    scored = findings.filter(pl.col("severity") != "info").with_row_index("fid")
    pairs = matches(scored, key)
    rules = sorted(set(key["rule"].to_list()) | set(scored["rule"].str.split("-").list.first().to_list()))
    rows = []
    for rule in rules:  # one row per rule id: a handful
        cases = key.filter(pl.col("rule") == rule)
        found = pairs.filter((pl.col("rule_id") == rule) & (pl.col("case_rule") == rule))["case_id"].n_unique()
        mine = scored.filter(pl.col("rule").str.split("-").list.first() == rule)
        hit = pairs.filter(pl.col("rule_id") == rule)["fid"].n_unique()
        rows.append(
            {
                "rule": rule,
                "cases": cases.height,
                "recalled": found,
                "recall": found / cases.height if cases.height else None,
                "findings": mine.height,
                "matched": hit,
                "precision": hit / mine.height if mine.height else None,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"recall": pl.Float64, "precision": pl.Float64})


def evaluate_db(settings: Settings, key_path: Path) -> pl.DataFrame:
    """Score the findings in the database against the answer key file."""
    key = read_key(key_path)
    with reader(settings.db) as con:
        findings = con.sql(f"SELECT rule, severity, {', '.join(KEYS)} FROM recon.findings ORDER BY finding_id").pl()
    return evaluate(findings, key)

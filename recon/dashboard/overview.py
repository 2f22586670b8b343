"""Overview page: what was loaded, what was found and how much money is at stake."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from recon.dashboard import data
from recon.errors import ReconError


def _money(frame: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """Decimals as 2-decimal text for display (exact, no float round-trip)."""
    return frame.with_columns(pl.col(c).cast(pl.Decimal(18, 2)).cast(pl.String) for c in cols if c in frame.columns)


def render() -> None:
    """Draw the overview page."""
    st.title("Reconciliation overview")
    path = data.db_path()
    st.caption(f"Database: `{path}`")
    try:
        totals = data.query(data.OVERVIEW_TOTALS).row(0, named=True)
    except ReconError as exc:
        st.warning(str(exc))
        return
    cols = st.columns(4)
    cols[0].metric("Invoices", totals["invoices"])
    cols[1].metric("Reconciliation lines", f"{totals['lines']:,}")
    cols[2].metric("Findings", totals["findings"])
    cols[3].metric("Open findings", totals["open_findings"])

    stake = data.query(data.STAKE_BY_CURRENCY)
    st.subheader("Money at stake")
    if stake.is_empty():
        st.success("No findings: every invoice ties out.")
    else:
        stake_cols = st.columns(max(1, stake.height))
        for col, row in zip(stake_cols, stake.iter_rows(named=True), strict=False):
            col.metric(
                f"At stake ({row['currency']})",
                f"{row['amount_at_stake']:,.2f}",
                f"{row['findings']} findings",
                delta_color="off",
            )

    by_rule = data.query(data.FINDINGS_BY_RULE)
    if not by_rule.is_empty():
        st.subheader("Findings per rule")
        chart = by_rule.with_columns(pl.col("amount_at_stake").cast(pl.Float64))  # plotting only
        fig = px.bar(chart, x="rule", y="findings", color="severity", hover_data=["currency", "amount_at_stake"])
        st.plotly_chart(fig, width="stretch")
        st.dataframe(_money(by_rule, "amount_at_stake"), hide_index=True, width="stretch")

    st.subheader("Invoice tie-out")
    tie = data.query(data.TIEOUT)
    st.dataframe(
        _money(tie, "invoice_total", "lines_total", "residual", "unexplained"), hide_index=True, width="stretch"
    )

    st.subheader("Findings")
    findings = data.query(data.FINDINGS)
    st.dataframe(_money(findings, "amount_at_stake"), hide_index=True, width="stretch")

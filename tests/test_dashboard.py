"""The dashboard's pages under Streamlit's AppTest, against a database the pipeline built."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recon.extract import extract
from recon.reconcile import reconcile
from recon.sandbox import SandboxServer
from tests.conftest import settings_for

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_db(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = settings_for(sandbox, tmp_path_factory.mktemp("dash") / "recon.duckdb")
    extract(settings)
    reconcile(settings)
    return settings.db


def test_overview_shows_findings_and_tieout(built_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_DB", str(built_db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Reconciliation overview"
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Invoices"]) >= 1
    assert int(labels["Findings"]) >= 1
    assert any(label.startswith("At stake (") for label in labels)
    assert [s.value for s in at.subheader] == ["Money at stake", "Findings per rule", "Invoice tie-out", "Findings"]
    assert len(at.dataframe) == 3


def test_overview_without_a_database_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_DB", str(tmp_path / "absent.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "recon demo" in at.warning[0].value

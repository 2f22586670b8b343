"""Every notebook's code cells run against a database the pipeline built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.extract import extract
from recon.reconcile import reconcile
from recon.settings import Settings

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_cells_run(notebook: Path, sb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    extract(sb_settings)
    reconcile(sb_settings)
    monkeypatch.setenv("RECON_DB", str(sb_settings.db))
    namespace: dict[str, object] = {}
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code
    for cell in code:
        exec(compile("".join(cell["source"]), f"{notebook.name}", "exec"), namespace)
    assert namespace["findings"].height >= 1  # type: ignore[attr-defined]

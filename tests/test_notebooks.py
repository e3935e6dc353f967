"""The notebooks in notebooks/ are stored executed (they read on the repository page), run top
to bottom on the bundled data, and re-executing them reproduces their stored text outputs
(``scripts/run_notebooks.py`` stores them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT

INSTALL = "it is in the test extra: pip install -e '.[test]'"
nbformat = pytest.importorskip("nbformat", reason=INSTALL)
nbclient = pytest.importorskip("nbclient", reason=INSTALL)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_three_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_explain_a_month.ipynb", "02_a_year_of_bridges.ipynb", "03_whatif_pricing.ipynb"]


def _texts(notebook) -> list[list[str]]:
    """Each code cell's text outputs: printed text and the plain-text form of results."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for output in cell.outputs:
            if output.output_type == "stream":
                texts.append(f"{output.name}: {output.text}")
            elif output.output_type in ("execute_result", "display_data"):
                texts.append(output.get("data", {}).get("text/plain", ""))
            elif output.output_type == "error":
                texts.append(f"error: {output.ename}")
        found.append(texts)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_executed(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    assert all(counts) and counts == sorted(counts), f"{path.name}: run scripts/run_notebooks.py"
    assert not any(o.output_type == "error" for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    stored = nbformat.read(path, as_version=4)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    # what the repository page shows is what the code does (stderr warnings aside)
    again = [[t for t in cell if not t.startswith("stderr: ")] for cell in _texts(notebook)]
    kept = [[t for t in cell if not t.startswith("stderr: ")] for cell in _texts(stored)]
    assert again == kept, f"{path.name}: stored outputs are stale; run scripts/run_notebooks.py"
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{path.name} draws no chart"

"""Execute the notebooks in notebooks/ top to bottom and store them with their outputs.

Run after changing a notebook or anything it shows: ``.venv/bin/python scripts/run_notebooks.py``.
tests/test_notebooks.py re-executes them and checks that their text outputs come out the same,
so a stored notebook never shows what the code no longer does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> nbformat.NotebookNode:
    """``path`` executed in its folder (Agg backend, a fixed timeout)."""
    os.environ["MPLBACKEND"] = "Agg"
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        notebook = run(path)
        notebook.metadata.pop("widgets", None)
        nbformat.write(notebook, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

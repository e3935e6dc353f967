"""Optional dependencies: import one, or fail with the one-line install hint.

What belongs here: :func:`require`, the single place that turns a missing optional library
(Graphviz's Python package, matplotlib, Jinja2, DuckDB/ibis, the engines' drivers) into a
:class:`~kpitree.core.errors.KpitreeError` naming the extra to install. The core itself needs
none of them. What does not: system programs such as Graphviz's ``dot`` (their callers say how
to install those).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kpitree.core.errors import MissingExtraError

# Which extra of ``pip install kpitree[...]`` brings each optional top-level module.
EXTRAS = {
    "graphviz": "image",
    "matplotlib": "charts",
    "jinja2": "report",
    "duckdb": "events",
    "ibis": "events",
    "psycopg": "engines",
    "pyspark": "engines",
    "pptx": "deck",
    "xlsxwriter": "workbook",
    "starlette": "serve",
    "uvicorn": "serve",
}


def require(module: str, *, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.pyplot"``) or raise the install hint.

    Raises:
        MissingExtraError: the module is not installed; the message names the extra,
            e.g. ``matplotlib is not installed (needed for charts): pip install 'kpitree[charts]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        missing = (exc.name or top).split(".")[0]
        if missing != top and top not in EXTRAS:
            raise
        extra = EXTRAS.get(top, "all")
        raise MissingExtraError(
            f"{top} is not installed (needed for {purpose}): pip install 'kpitree[{extra}]' "
            "(or 'kpitree[all]' for everything)"
        ) from None

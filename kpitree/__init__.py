"""kpitree: explain why ARPU moved.

Load a metric tree, evaluate it on two periods, and split the change exactly into mix effects
(weight shifting between segments) and rate effects down to each driver::

    import kpitree
    tree = kpitree.load_tree("trees/saas_arpu.yaml")
    result = kpitree.explain(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10")
    result.totals          # {'mix': …, 'rate': …}
    result.effects         # tidy DataFrame, sums exactly to result.delta
    result.render("arpu.png")
    kpitree.write_report(result, "out/2026-10")  # HTML + Markdown review pack

This facade holds what analysts call; everything else stays importable from its sub-package:
:mod:`kpitree.core` (model and maths), :mod:`kpitree.analysis` (trend, scenarios, totals,
drivers), :mod:`kpitree.io` (raw events), :mod:`kpitree.present` (images, reports),
:mod:`kpitree.cli` (the command).

Pay only for what you use: ``import kpitree`` imports nothing heavy. Each name below is
imported from its module the first time it is used (module-level ``__getattr__``, PEP 562), and
that first use also imports :mod:`kpitree.present`, which registers the views, so
``kpitree.explain(…).render("a.png")`` works as written. (Code that imports only
:mod:`kpitree.core` and asks for a view gets a :class:`RenderError` saying to import
``kpitree.present`` first; see :mod:`kpitree.core.views`.) The command line does not go through
this facade: it imports each module only when a command needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kpitree.core import VERSION

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from kpitree.analysis.bootstrap import with_intervals
    from kpitree.analysis.cross import explain_cross
    from kpitree.analysis.drivers import Drivers, drivers
    from kpitree.analysis.ltv import lifetime_value, ltv, project_next
    from kpitree.analysis.scenario import (
        GoalError,
        Scenario,
        ScenarioError,
        Snapshot,
        compare_scenarios,
        goal_seek,
        sensitivity,
        snapshot,
    )
    from kpitree.analysis.totals import TotalExplanation, explain_total
    from kpitree.analysis.trend import Trend, trend
    from kpitree.core.attribution import METHODS, explain
    from kpitree.core.data import load_data
    from kpitree.core.errors import (
        DataError,
        FormulaError,
        KpitreeError,
        MethodError,
        RenderError,
        TreeError,
    )
    from kpitree.core.evaluate import evaluate
    from kpitree.core.result import Explanation
    from kpitree.core.tree import Tree, load_tree, tree_from_text
    from kpitree.present.narrative import narrate
    from kpitree.present.report import write_report
    from kpitree.serve import explore

# Each public name → the module it is imported from on first use.
EXPORTS: dict[str, str] = {
    "with_intervals": "kpitree.analysis.bootstrap",
    "explain_cross": "kpitree.analysis.cross",
    "Drivers": "kpitree.analysis.drivers",
    "drivers": "kpitree.analysis.drivers",
    "lifetime_value": "kpitree.analysis.ltv",
    "ltv": "kpitree.analysis.ltv",
    "project_next": "kpitree.analysis.ltv",
    "GoalError": "kpitree.analysis.scenario",
    "Scenario": "kpitree.analysis.scenario",
    "ScenarioError": "kpitree.analysis.scenario",
    "Snapshot": "kpitree.analysis.scenario",
    "compare_scenarios": "kpitree.analysis.scenario",
    "goal_seek": "kpitree.analysis.scenario",
    "sensitivity": "kpitree.analysis.scenario",
    "snapshot": "kpitree.analysis.scenario",
    "TotalExplanation": "kpitree.analysis.totals",
    "explain_total": "kpitree.analysis.totals",
    "Trend": "kpitree.analysis.trend",
    "trend": "kpitree.analysis.trend",
    "METHODS": "kpitree.core.attribution",
    "explain": "kpitree.core.attribution",
    "load_data": "kpitree.core.data",
    "DataError": "kpitree.core.errors",
    "FormulaError": "kpitree.core.errors",
    "KpitreeError": "kpitree.core.errors",
    "MethodError": "kpitree.core.errors",
    "RenderError": "kpitree.core.errors",
    "TreeError": "kpitree.core.errors",
    "evaluate": "kpitree.core.evaluate",
    "Explanation": "kpitree.core.result",
    "Tree": "kpitree.core.tree",
    "load_tree": "kpitree.core.tree",
    "tree_from_text": "kpitree.core.tree",
    "narrate": "kpitree.present.narrative",
    "write_report": "kpitree.present.report",
    "explore": "kpitree.serve",
}

__all__ = [
    "METHODS",
    "DataError",
    "Drivers",
    "Explanation",
    "FormulaError",
    "GoalError",
    "KpitreeError",
    "MethodError",
    "RenderError",
    "Scenario",
    "ScenarioError",
    "Snapshot",
    "TotalExplanation",
    "Tree",
    "TreeError",
    "Trend",
    "compare_scenarios",
    "drivers",
    "evaluate",
    "explain",
    "explain_cross",
    "explain_total",
    "explore",
    "goal_seek",
    "lifetime_value",
    "load_data",
    "load_tree",
    "ltv",
    "narrate",
    "project_next",
    "sensitivity",
    "snapshot",
    "tree_from_text",
    "trend",
    "with_intervals",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (and register the views)."""
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpitree' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    importlib.import_module("kpitree.present")  # registers the views (kpitree.core.views)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})


__version__ = VERSION

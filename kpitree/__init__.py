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
:mod:`kpitree.cli` (the command). Importing it registers the presentation's views.
"""

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

from kpitree.core import VERSION

__version__ = VERSION

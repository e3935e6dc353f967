"""kpitree: explain why ARPU moved.

Load a metric tree, evaluate it on two periods, and split the change exactly into mix effects
(weight shifting between segments) and rate effects down to each driver::

    import kpitree
    tree = kpitree.load_tree("trees/saas_arpu.yaml")
    result = kpitree.explain(tree, "data/saas_monthly.csv", base="2026-09", compare="2026-10")
    result.totals          # {'mix': …, 'rate': …}
    result.effects         # tidy DataFrame, sums exactly to result.delta
    result.render("arpu.png")
"""

from kpitree.attribution import METHODS, explain
from kpitree.data import load_data
from kpitree.errors import (
    DataError,
    FormulaError,
    KpitreeError,
    MethodError,
    RenderError,
    TreeError,
)
from kpitree.evaluate import evaluate
from kpitree.result import Explanation, PeriodValue
from kpitree.tree import Driver, Linear, Product, Tree, build_tree, load_tree, tree_from_text

__all__ = [
    "METHODS",
    "DataError",
    "Driver",
    "Explanation",
    "FormulaError",
    "KpitreeError",
    "Linear",
    "MethodError",
    "PeriodValue",
    "Product",
    "RenderError",
    "Tree",
    "TreeError",
    "build_tree",
    "evaluate",
    "explain",
    "load_data",
    "load_tree",
    "tree_from_text",
]

__version__ = "0.1.0"

"""The model and the maths: tree files, formulas, data checking, evaluation, exact attribution.

What belongs here: everything needed to explain a change exactly — the strict tree spec, the one
safe expression parser, the tree and its driver structure, checking a table against a tree,
evaluating nodes on sums, the one prepared-data type (period × segment sums), levels and shares,
Shapley/sequential and LMDI, the tidy frames and the result types, the error classes and the one
number formatter. It imports only numpy, pandas, networkx and PyYAML (and itself).
What does not: analyses built on attribution (:mod:`kpitree.analysis`), reading raw event logs
(:mod:`kpitree.io`), drawing or reports (:mod:`kpitree.present`), the command line
(:mod:`kpitree.cli`). Results reach their views through :mod:`kpitree.core.views`.
"""

VERSION = "0.1.0"

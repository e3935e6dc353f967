"""What-if scenarios, goal seek and sensitivity on a period's evaluated tree.

What belongs here: turning levers (``"attach[tier=pro]": "+5pp"``) into a changed snapshot of
one period's column sums, explaining the change with the same attribution as an actual month
(:func:`~kpitree.core.attribution.attribute` — a scenario is just another snapshot to attribute
against, never a second engine), solving for the lever value that reaches a target, and the
elasticity of the root to every driver and share. What does not: drawing
(:mod:`kpitree.present.charts`, reached through :mod:`kpitree.core.views`).

This package only gathers the public names; each job has its module:

* :mod:`~kpitree.analysis.scenario.levers` — the lever grammar (:class:`Lever`,
  :func:`parse_lever`, :data:`LEVER_FORMS`);
* :mod:`~kpitree.analysis.scenario.solve` — what a lever does to the column sums (the
  driver, share-rebalancing and move rules);
* :mod:`~kpitree.analysis.scenario.scenario` — :class:`Snapshot`, :func:`snapshot`,
  :class:`Scenario`, :func:`compare_scenarios`;
* :mod:`~kpitree.analysis.scenario.goal` — :func:`goal_seek`, :class:`GoalSeek`;
* :mod:`~kpitree.analysis.scenario.sensitivity` — :func:`sensitivity`, :func:`tornado_chart`.

:class:`ScenarioError` and :class:`GoalError` are defined in :mod:`kpitree.core.errors` and
re-exported here.
"""

from kpitree.analysis.scenario.goal import GoalSeek, goal_seek
from kpitree.analysis.scenario.levers import LEVER_FORMS, Lever, parse_lever
from kpitree.analysis.scenario.scenario import (
    WHATIF,
    Scenario,
    Snapshot,
    compare_scenarios,
    snapshot,
)
from kpitree.analysis.scenario.sensitivity import sensitivity, tornado_chart
from kpitree.core.errors import GoalError, ScenarioError

__all__ = [
    "LEVER_FORMS",
    "WHATIF",
    "GoalError",
    "GoalSeek",
    "Lever",
    "Scenario",
    "ScenarioError",
    "Snapshot",
    "compare_scenarios",
    "goal_seek",
    "parse_lever",
    "sensitivity",
    "snapshot",
    "tornado_chart",
]

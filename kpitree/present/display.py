"""Wires the presentation into the results: the one place that registers every view.

What belongs here: the :func:`kpitree.core.views.register` calls that let results, trends,
scenarios, totals and driver searches draw and print themselves (``render``, ``chart``,
``__str__``, notebook display) without the core or the analyses importing presentation. What
does not: the views themselves (each lives in its own module of :mod:`kpitree.present`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kpitree.core.views import register
from kpitree.present import (
    bridge,
    charts,
    drivers_table,
    narrative,
    notebook,
    table,
    tree_image,
)

# View name (what :func:`kpitree.core.views.show` is called with) → the function behind it.
VIEWS: dict[str, Callable[..., Any]] = {
    "tree_image": tree_image.render_explanation,
    "bridge_figure": bridge.bridge_figure,
    "bridge_file": bridge.render_bridge,
    "bridge_top": lambda: bridge.TOP,
    "narrative": narrative.narrate,
    "explanation_html": notebook.explanation_html,
    "trend_html": notebook.trend_html,
    "snapshot_html": notebook.snapshot_html,
    "scenario_html": notebook.scenario_html,
    "goal_html": notebook.goal_html,
    "total_html": notebook.total_html,
    "explanation_table": table.format_table,
    "drivers_table": drivers_table.format_drivers,
    "drivers_chart": lambda *args, **kw: _drivers_chart()(*args, **kw),
    "trend_table": table.format_trend,
    "trend_bridge_chart": charts.trend_bridge_chart,
    "trend_multiples_chart": charts.trend_multiples_chart,
    "volume_bridge_chart": charts.volume_bridge_chart,
    "scenario_chart": charts.scenario_chart,
    "tornado_chart": charts.tornado_chart,
}



def _drivers_chart() -> Callable[..., Any]:
    """The drivers chart, imported when first drawn (it pulls in the chart module)."""
    from kpitree.present.drivers_chart import drivers_chart

    return drivers_chart


def register_views() -> None:
    """Register every view of :data:`VIEWS` (done once, when this module is imported)."""
    for name, function in VIEWS.items():
        register(name, function)


register_views()

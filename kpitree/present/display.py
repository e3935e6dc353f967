"""Wires the presentation into the results: the one place that registers every view.

What belongs here: the :func:`kpitree.core.views.register` calls that let results, trends,
scenarios, totals and driver searches draw and print themselves (``render``, ``chart``,
``__str__``, notebook display) without the core or the analyses importing presentation. What
does not: the views themselves (each lives in its own module of :mod:`kpitree.present`).
"""

from __future__ import annotations

from kpitree.core.views import register
from kpitree.present import bridge, charts, drivers_table, narrative, report, table, tree_image

register("tree_image", tree_image.render_explanation)
register("bridge_figure", bridge.bridge_figure)
register("bridge_file", bridge.render_bridge)
register("bridge_top", lambda: bridge.TOP)
register("narrative", narrative.narrate)
register("explanation_html", report.explanation_html)
register("explanation_table", table.format_table)
register("drivers_table", drivers_table.format_drivers)
register("trend_table", table.format_trend)
register("trend_bridge_chart", charts.trend_bridge_chart)
register("trend_multiples_chart", charts.trend_multiples_chart)
register("volume_bridge_chart", charts.volume_bridge_chart)
register("scenario_chart", charts.scenario_chart)
register("tornado_chart", charts.tornado_chart)

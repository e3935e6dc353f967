"""The explorer in Jupyter: :func:`explore` serves a result's tree and data and shows it inline.

What belongs here: :func:`explore` and :class:`Exploration`, the object a notebook displays — an
``<iframe>`` onto an explorer served from a background thread on a free loopback port, so it
works offline and with no notebook extension. What does not: the server
(:mod:`kpitree.serve.server`) or the page (``kpitree/serve/static/``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from kpitree.core.data import DataSource
from kpitree.core.errors import UsageError
from kpitree.core.result import Explanation
from kpitree.core.tree import Tree
from kpitree.serve.server import Running, start
from kpitree.serve.session import Explorer

__all__ = ["Exploration", "explore"]


@dataclass
class Exploration:
    """A running explorer; displayed in a notebook as the page in an ``<iframe>``."""

    explorer: Explorer = field(repr=False)
    running: Running = field(repr=False)
    url: str
    height: int = 820

    def _repr_html_(self) -> str:
        source = html.escape(self.url, quote=True)
        return (f'<iframe src="{source}" width="100%" height="{int(self.height)}" '
                'style="border:1px solid #ccc" title="kpitree explorer"></iframe>')

    def stop(self) -> None:
        """Stop the background server."""
        self.running.stop()


def explore(result: Explanation | Tree | str | Path, data: DataSource | None = None, *,
            base: object | None = None, compare: object | None = None,
            period_column: str = "period", port: int = 0, height: int = 820) -> Exploration:
    """Show the interactive explorer inline in Jupyter (served on 127.0.0.1, offline).

    Args:
        result: an :class:`Explanation` (its tree, periods and method are used), or a tree.
        data: the rows the result was explained on (a DataFrame or a CSV/Parquet path); an
            explanation keeps only its sums, so the explorer needs them to drill.
        base, compare: the periods (default: the result's, else the data's last two).
        port: the loopback port (default 0: a free one).

    Example:
        >>> view = kpitree.explore(result, data="data/saas_monthly.csv")  # doctest: +SKIP
        >>> view  # the page, in the notebook  # doctest: +SKIP
    """
    if data is None:
        raise UsageError("kpitree.explore needs the data the result was explained on: "
                         "kpitree.explore(result, data='data/saas_monthly.csv')")
    query: dict[str, str] = {}
    if isinstance(result, Explanation):
        tree: Tree | str | Path = result.tree
        base = result.base.period if base is None else base
        compare = result.compare.period if compare is None else compare
        query["method"] = result.method
    else:
        tree = result
    explorer = Explorer.open(tree, data, base=base, compare=compare,
                             period_column=period_column)
    running = start(explorer, port=port)
    query.update(base=explorer.base, compare=explorer.compare)
    return Exploration(explorer, running, f"{running.url}?{urlencode(query)}", height)

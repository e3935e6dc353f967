"""The one lazy entry point from results to their views: images, charts, tables, notebook display.

What belongs here: a registry of view functions by name, filled by :mod:`kpitree.present` when it
is imported (``import kpitree`` does that), and the lookup that results use. Results live in the
core and the analyses and must not import presentation (the layers point one way); their methods
``render``, ``chart``, ``__str__``, ``_repr_html_`` … look their view up here instead. What does
not: any drawing or formatting itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kpitree.core.errors import RenderError

_VIEWS: dict[str, Callable[..., Any]] = {}


def register(name: str, function: Callable[..., Any]) -> None:
    """Register ``function`` as the view called ``name`` (a later registration replaces it)."""
    _VIEWS[name] = function


def view(name: str) -> Callable[..., Any]:
    """The view function called ``name``.

    Raises:
        RenderError: no view of that name (``kpitree.present`` was not imported).
    """
    try:
        return _VIEWS[name]
    except KeyError:
        raise RenderError(
            f"no '{name}' view is registered: import kpitree (or kpitree.present) first"
        ) from None


def show(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the view called ``name``."""
    return view(name)(*args, **kwargs)

"""Presentation: the tree image, bridges and charts, narrative, text tables, the review pack.

What belongs here: turning results into what a person sees — every number through
:mod:`kpitree.core.formatting` (shared phrasing in :mod:`kpitree.present.wording`), colours,
fonts, formats and byte-stable saving from :mod:`kpitree.present.style`, every bridge drawn by
:mod:`kpitree.present.waterfall`. Importing this package registers the views that results
look up (:mod:`kpitree.present.display`). Graphviz, matplotlib and Jinja2 are optional extras,
imported only when something is drawn. What does not: any maths (it formats what the results
hold) or the command line.
"""

from kpitree.present import display as _display  # noqa: F401  (registers the views)

"""The interactive explorer: drill into a change, try levers, export — on the same engine.

What belongs here: the local web app behind ``kpitree serve`` and :func:`explore` — the session
over one tree and its data (:mod:`~kpitree.serve.session`: explain, drill, biggest mover), the
what-if and trend questions (:mod:`~kpitree.serve.scenarios`), the API's JSON documents
(:mod:`~kpitree.serve.documents`) and schema (:mod:`~kpitree.serve.schema`), the Starlette app
(:mod:`~kpitree.serve.app`), running it (:mod:`~kpitree.serve.server`), the notebook view
(:mod:`~kpitree.serve.notebook`) and the page (``static/``: plain HTML, CSS and JavaScript, no
CDN). What does not: any maths — every number comes from :func:`kpitree.explain`, the driver
search, the scenario package or the trend — or the command line (``kpitree.cli.serve``).
Starlette and uvicorn are the ``serve`` extra, imported only when an app is built.
"""

from kpitree.serve.notebook import Exploration, explore
from kpitree.serve.session import Explorer

__all__ = ["Exploration", "Explorer", "explore"]

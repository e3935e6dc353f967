"""The synthetic data generator: seeded data with known effects planted, in two outputs.

What belongs here: one generator with a shared core (:mod:`~kpitree.io.generate.core`: the
categorical draws and :class:`Planted`, the statement of a planted effect) and two outputs —

* :func:`generate` (:mod:`~kpitree.io.generate.log`): a raw SaaS event log and user-month
  table as Parquet, for ``kpitree generate`` and the raw-events engines;
* :func:`planted_users` (:mod:`~kpitree.io.generate.users`): user × period rows for
  ``trees/saas_arpu.yaml`` over :data:`DIMENSIONS`, with :data:`PLANTED` drivers, for the
  driver search, its intervals and the benchmarks.

Same seed, same output. What does not: reading data back (:mod:`kpitree.io.sources`,
:mod:`kpitree.core.data`).
"""

from kpitree.core.errors import GenerateError
from kpitree.io.generate.core import Planted, choose, draw_codes
from kpitree.io.generate.log import Generated, generate
from kpitree.io.generate.users import DIMENSIONS, PLANTED, planted_users

__all__ = ["DIMENSIONS", "PLANTED", "GenerateError", "Generated", "Planted", "choose",
           "draw_codes", "generate", "planted_users"]

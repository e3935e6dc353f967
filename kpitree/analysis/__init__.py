"""Analyses built on the core's attribution: trend, scenarios, totals and LTV, drivers, bootstrap,
cross-classified mix.

What belongs here: questions an analyst asks of a tree and its data beyond one explanation, each
answered by calling the core's public functions (never a second copy of the maths). What does
not: reading raw events (:mod:`kpitree.io`), drawing and text (:mod:`kpitree.present`, reached
through :mod:`kpitree.core.views`), the command line.
"""

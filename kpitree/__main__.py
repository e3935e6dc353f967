"""``python -m kpitree`` runs the command line."""

from kpitree.cli import run

run()

"""``python -m kpitree`` runs the command line."""

from kpitree.cli.main import run

run()

"""``python -m kpitree`` runs the command line (:func:`kpitree.cli.run`)."""

from kpitree.cli import run

run()

"""The ``kpitree`` command: a thin shell over the public API.

What belongs here: the command line only — its options (:mod:`~kpitree.cli.parser`), one small
function per subcommand (:mod:`~kpitree.cli.commands`, raw sources and the generator in
:mod:`~kpitree.cli.events`), the one output path (:mod:`~kpitree.cli.output`) and the error →
exit-code policy (:mod:`~kpitree.cli.errors`: 0 ok, 2 bad input, 1 internal error). What does
not: any maths, formatting rules or file formats (those live in the library).
"""

from kpitree.cli.main import main, run

__all__ = ["main", "run"]

"""The ``kpitree`` command: a thin shell over the public API.

What belongs here: argument parsing, one call into the library per command, printing, and the
error → exit-code policy (0 ok, 2 bad input, 1 internal error). What does not: any maths,
formatting rules or file formats (those live in the library).
"""

from kpitree.cli.main import main, run

__all__ = ["main", "run"]

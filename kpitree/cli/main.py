"""The ``kpitree`` command's entry points: ``main(argv) -> int`` and the console script ``run``.

What belongs here: parsing the command line and running the chosen subcommand under the
exit-code policy of :mod:`kpitree.cli.errors`. What does not: the options
(:mod:`kpitree.cli.parser`), the subcommands (:mod:`kpitree.cli.commands`) or printing results
(:mod:`kpitree.cli.output`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kpitree.cli.errors import EXIT_OK, RawUsageError, UsageError, guarded
from kpitree.cli.parser import build_parser

__all__ = ["RawUsageError", "UsageError", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 1 internal error).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Example:
        >>> main(["explain"])  # bad usage: one line "kpitree: error: …" on stderr
        2
    """
    arguments = list(sys.argv[1:] if argv is None else argv)

    def parse_and_run() -> int:
        try:
            args = build_parser().parse_args(arguments)
        except SystemExit as done:  # --help or --version: printed, nothing to run
            return EXIT_OK if done.code is None else int(done.code)
        from kpitree.cli.commands import run_command  # after parsing: --help imports no maths

        return run_command(args)

    return guarded(parse_and_run, debug="--debug" in arguments)


def run() -> None:
    """Console-script entry point (``kpitree``, ``python -m kpitree``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()

"""The ``kpitree`` command's error → exit-code policy (DESIGN.md §5).

What belongs here: turning what a command raised into what the user sees and the exit code —
kpitree's own errors are bad input (one line ``kpitree: error: …``, exit 2), and so is running
out of memory on an input too large for the machine; an interrupt exits 130; a reader that
stopped early (``| head``) is not an error (exit 0); anything else is a bug (exit 1 with one
line, or the traceback with ``--debug``). Every line is printed through :func:`say`: URLs'
credentials redacted, control characters escaped, one line whatever the message holds. What
does not: the error classes themselves (:mod:`kpitree.core.errors`) or their messages.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from kpitree.core.errors import KpitreeError, RawUsageError, UsageError
from kpitree.core.safety import redact_urls, terminal

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "EXIT_INTERRUPTED", "EXIT_OK", "RawUsageError",
           "UsageError", "guarded"]


def guarded(command: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``command`` and return its exit code, reporting what it raised on stderr.

    Args:
        command: the work, returning its own exit code when it succeeds.
        debug: re-raise kpitree's errors and bugs instead (the interpreter prints the
            traceback and exits 1).
    """
    try:
        return command()
    except KpitreeError as exc:
        if debug:
            raise
        say(f"kpitree: error: {exc}")
        return EXIT_BAD_INPUT
    except MemoryError:
        if debug:
            raise
        say("kpitree: error: out of memory: the input is too large for this machine; explain "
            "fewer segments (--by), fewer periods or fewer replicates (--bootstrap)")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kpitree: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours. Silence the flush
        # Python attempts at exit on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line unless --debug
        if debug:
            raise
        say(f"kpitree: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback)")
        return EXIT_BUG


def say(message: str) -> None:
    """One line on stderr: credentials in URLs redacted, control characters and line breaks
    shown escaped (a message that quotes a hostile value still takes one line)."""
    line = redact_urls(message).replace("\r\n", "\n").replace("\n", " ").replace("\r", " ")
    print(terminal(line), file=sys.stderr)

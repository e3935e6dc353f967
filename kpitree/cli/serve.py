"""``kpitree serve``: the interactive explorer on a local web server.

What belongs here: the subcommand's run — open the session (:class:`kpitree.serve.Explorer`),
bind the socket, warn when the address is not loopback, say where the page is, open the browser
unless ``--no-browser``, and serve until Ctrl-C. What does not: the options
(:mod:`kpitree.cli.parser`), the app and its API (:mod:`kpitree.serve`).
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from urllib.parse import urlencode

__all__ = ["run_serve"]


def run_serve(args: argparse.Namespace) -> int:
    """Serve the explorer for TREE and DATA until interrupted; return the exit code."""
    from kpitree.core.optional import require
    from kpitree.core.safety import terminal
    from kpitree.serve.server import bind, is_loopback, run, url_of
    from kpitree.serve.session import Explorer

    require("starlette", purpose="the explorer")
    require("uvicorn", purpose="the explorer")
    explorer = Explorer.open(args.tree, args.data, base=args.base, compare=args.compare,
                             dims=args.dims, period_column=args.period_column)
    if not is_loopback(args.host):
        print(f"kpitree: warning: --host {args.host} lets other machines reach the explorer "
              "and your data; there is no login. Use the default 127.0.0.1 unless you mean it",
              file=sys.stderr, flush=True)
    sock = bind(args.host, args.port)
    query = urlencode({"base": explorer.base, "compare": explorer.compare})
    url = f"{url_of(sock)}?{query}"
    print(terminal(f"kpitree explorer: {explorer.tree.title} on {explorer.name} at {url} "
                   "(Ctrl-C to stop)"), file=sys.stderr, flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    run(explorer, sock)
    return 0

"""Running the explorer: a uvicorn server on a socket we bind, in the foreground or a thread.

What belongs here: binding the listening socket (so a port in use is a one-line error and port
0 picks a free one), which ``Host`` names the app answers for a bind address, running uvicorn
blocking (``kpitree serve``) or in a daemon thread (:func:`start`, for notebooks and tests).
What does not: the routes (:mod:`kpitree.serve.app`), the command line (``kpitree.cli.serve``).
uvicorn is imported inside the functions through :func:`kpitree.core.optional.require`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kpitree.core.errors import UsageError
from kpitree.core.optional import require
from kpitree.serve.app import LOOPBACK_HOSTS, create_app
from kpitree.serve.session import Explorer

__all__ = ["Running", "bind", "hosts_for", "is_loopback", "run", "start"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hosts_for(host: str) -> list[str]:
    """The ``Host`` names answered when bound to ``host``: loopback names, plus the host;
    any name for a wildcard address (0.0.0.0, ::)."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return [*LOOPBACK_HOSTS, host]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        UsageError: the port is taken or the address is not this machine's.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                         "choose another --port (or --port 0 for a free one)") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` for a bound socket (IPv6 in brackets; a wildcard address is
    reached on this machine as 127.0.0.1)."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server(explorer: Explorer, host: str) -> Any:
    uvicorn = require("uvicorn", purpose="the explorer")
    app = create_app(explorer, hosts=hosts_for(host))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def run(explorer: Explorer, sock: socket.socket) -> None:
    """Serve ``explorer`` on ``sock`` until interrupted (Ctrl-C)."""
    server = _server(explorer, sock.getsockname()[0])
    server.run(sockets=[sock])


@dataclass
class Running:
    """An explorer served from a daemon thread; :meth:`stop` ends it."""

    url: str
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start(explorer: Explorer, *, host: str = "127.0.0.1", port: int = 0,
          timeout: float = 10.0) -> Running:
    """Serve ``explorer`` from a daemon thread; return once it answers.

    Raises:
        UsageError: the port is taken; RuntimeError: the server did not start in time.
    """
    sock = bind(host, port)
    server = _server(explorer, host)
    server.config.install_signal_handlers = False  # not the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="kpitree-explorer")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the explorer's server did not start")
        time.sleep(0.02)
    return Running(url_of(sock), server, thread)

"""``seisim app``: a browser dashboard for people who do not write scenario files or Python.

It offers the scenarios ``seisim mc`` can run (the user's ``scenarios/`` folder and the shipped
library), sliders for the levers, and runs the same :func:`sim.compare` as the command line, so a
number on the page is the number the library gives for the same scenario, levers, seed and
replications. The page is a Solara app (the framework Mesa's own visualisation uses); Solara is
the optional ``app`` extra.
"""

from __future__ import annotations

import os
import signal
import warnings

from sim.errors import InputError

APP_MODULE = "sim.app.dashboard"


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> int:
    """Start the dashboard server and block until it is stopped (Ctrl-C)."""
    from sim.compat import optional_import

    if not 0 <= int(port) <= 65535:
        raise InputError(f"--port must be between 0 and 65535 (got {port})")
    if port:
        _check_port_free(host, int(port))
    # No calls home: the server works offline and sends no usage statistics.
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    optional_import("solara", "app", "seisim app")
    from solara.__main__ import run

    # Solara warns on every page load from an address other than "localhost" that it cannot set
    # cross-site cookies over http; those matter only when embedding the page elsewhere.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

    args = [APP_MODULE, "--host", host, "--port", str(int(port)), "--production",
            "--no-check-version", "--open" if open_browser else "--no-open"]
    # Stopped by a service manager or a test: end like Ctrl-C, so the runs' folder is removed.
    signal.signal(signal.SIGTERM, _stop)
    try:
        run.main(args, prog_name="seisim app", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def _check_port_free(host: str, port: int) -> None:
    """A port already taken (often a dashboard still running) as a one-line error, before the
    server starts."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise InputError(f"--host {host}: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            raise InputError(f"port {port} on {host} is in use (a dashboard already running?); "
                             "choose another with --port") from None

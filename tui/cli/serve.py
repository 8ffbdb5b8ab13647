"""``pixverse-tui serve``: the dashboard in a browser (the optional ``web`` extra).

Private by default: loopback only, a random token in the URL it prints (as
Jupyter does), and how to reach it from another machine over SSH.  The server
itself is ``tui.web.server``; this is only its command line.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.cli.output import err

if TYPE_CHECKING:
    from tui.web.server import Listening, ServeOptions

INSTALL = "pip install 'pixverse-tui[web]'"


def _sessions(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be 1 to 64, not {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, not {value}")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="the dashboard in a browser, behind a token "
                       f"(needs {INSTALL})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="0 picks a free port")
    p.add_argument("--max-sessions", type=_sessions, default=8,
                   help="browser tabs (each runs a dashboard process) served at once")
    p.add_argument("--demo", dest="serve_demo", action="store_true",
                   help="serve the demo: one built-in simulator for every tab (no key, no cost)")
    p.add_argument("--read-only", dest="serve_read_only", action="store_true",
                   help="viewers only: no tab can submit, cancel, re-run, forget or annotate")
    p.set_defaults(run_sync=run)


def run(args: argparse.Namespace) -> int:
    try:
        from tui.web.server import ServeOptions, is_loopback
        from tui.web.server import run as serve
    except ImportError:
        err(f"serving the dashboard in a browser needs the web extra: {INSTALL}")
        return 1
    demo = bool(args.serve_demo or getattr(args, "demo", False))
    if not demo and not _has_key():
        return 1
    if not is_loopback(args.host):
        err(f"listening on {args.host}, not only on this machine: anyone who can reach port "
            f"{args.port} and learns the token gets the dashboard and its API key's budget, "
            "over unencrypted HTTP — prefer the default and an SSH tunnel")

    simulator = None
    if demo:
        from tui.launch import start_demo_simulator

        simulator = start_demo_simulator()
    options = ServeOptions(host=args.host, port=args.port, max_sessions=args.max_sessions,
                           simulator_url=simulator.base_url if simulator else None,
                           read_only=bool(args.serve_read_only or args.read_only))

    def ready(listening: Listening) -> None:
        print(banner(listening, options, demo=demo), flush=True)

    import asyncio  # (here: building another command's parser loads none of this)

    try:
        asyncio.run(serve(options, ready=ready))
    except OSError as exc:
        err(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); pick another "
            "--port (0 = any free port)")
        return 1
    finally:
        if simulator is not None:
            simulator.stop()
    print("pixverse-tui: stopped; every dashboard it served has ended.", flush=True)
    return 0


def _has_key() -> bool:
    from tui.config.credentials import CredentialsError
    from tui.engine.workspace import Workspace

    try:
        ws = Workspace.load()
    except CredentialsError as exc:
        err(str(exc))
        return False
    if ws.key is None:
        err("no API key: set DASHSCOPE_API_KEY (or DASHSCOPE_API_KEY_FILE_PATH, a file holding "
            "it) before serving, or try it with `pixverse-tui serve --demo`")
        return False
    return True


def banner(listening: Listening, options: ServeOptions, *, demo: bool) -> str:
    """What to open, and how to reach it from another machine."""
    import socket

    from tui.web.server import is_loopback

    url = listening.url
    if options.host in ("0.0.0.0", "::", ""):
        url = url.replace(f"//{options.host}:", f"//{socket.gethostname()}:", 1)
        url = url.replace("//[::]:", f"//{socket.gethostname()}:", 1)
    what = "the demo (a built-in simulator: no key, no cost)" if demo else "the dashboard"
    port = listening.port
    if options.read_only:
        what += ", read-only (nothing can be submitted, cancelled or forgotten from it)"
    lines = [f"pixverse-tui serves {what} at", "", f"    {url}", "",
             f"Each browser tab runs a dashboard of its own (at most {options.max_sessions} "
             "at once); the token in the URL is the only key to it."]
    if is_loopback(options.host):
        lines += ["From another machine, forward the port over SSH, then open the same URL "
                  "there:", "", f"    ssh -L {port}:localhost:{port} {socket.gethostname()}",
                  ""]
    lines.append("Ctrl+C stops the server and every dashboard.")
    return "\n".join(lines)

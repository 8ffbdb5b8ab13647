"""One browser tab's dashboard: the process ``serve`` starts for each tab.

textual-serve runs it with its stdin and stdout as the pipe to the tab.  It is
the same dashboard as in a terminal, with one addition: it ends when ``serve``
is gone, even killed with SIGKILL (otherwise it would poll on, unseen).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Sequence

PARENT_CHECK = 0.5  # seconds between two looks at whether the server is still there
EXIT_GRACE = 5.0  # seconds the dashboard gets to close its store before it is cut short


def follow_parent(parent: int) -> None:
    """When the server goes, quit like the tab closed (the web driver turns SIGTERM into
    a clean exit); if that hangs, leave anyway."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(EXIT_GRACE)
        os._exit(1)

    threading.Thread(target=watch, name="follow-serve", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.web.session")
    parser.add_argument("--simulator", metavar="URL",
                        help="the demo, on the simulator `serve --demo` started")
    parser.add_argument("--read-only", action="store_true",
                        help="a viewer's dashboard: nothing created, cancelled or forgotten")
    args = parser.parse_args(argv)
    follow_parent(os.getppid())

    from tui.launch import launch

    return launch(demo=args.simulator is not None, simulator_url=args.simulator,
                  read_only=args.read_only)


if __name__ == "__main__":
    raise SystemExit(main())

"""A local DashScope-compatible service, written independently of the client.

It must not import ``tui.dashscope``: the two implementations of the protocol
check each other.  Start one in-process with :class:`Simulator` or from the
command line with ``pixverse-tui simulate``.  The server is loaded when first asked
for (PEP 562): the command line's parser, which holds ``simulate``'s options
(``tui.simulator.cli``), does not start it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.simulator.server import Simulator, SimulatorConfig


def __getattr__(name: str) -> Any:
    if name not in ("Simulator", "SimulatorConfig"):
        raise AttributeError(f"module 'tui.simulator' has no attribute {name!r}")
    from tui.simulator import server

    value = getattr(server, name)
    globals()[name] = value
    return value


__all__ = ["Simulator", "SimulatorConfig"]

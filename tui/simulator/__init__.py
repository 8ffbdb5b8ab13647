"""A local DashScope-compatible service, written independently of the client.

It must not import ``tui.dashscope``: the two implementations of the protocol
check each other.  Start one in-process with :class:`Simulator` or from the
command line with ``pixverse-tui simulate``.
"""

from tui.simulator.server import Simulator, SimulatorConfig

__all__ = ["Simulator", "SimulatorConfig"]

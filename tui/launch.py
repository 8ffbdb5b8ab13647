"""Starting the dashboard: real, or the demo on a background simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.dashscope import ApiKey

if TYPE_CHECKING:
    from tui.engine.workspace import Workspace
    from tui.simulator import Simulator

DEMO_SPEED = 10.0  # a typical 1–5 minute task takes 6–30 s
DEMO_KEY = "sk-demo-pixverse-tui"


def start_demo_simulator() -> Simulator:
    """A simulator on a free loopback port, in a background thread."""
    from tui.simulator import Simulator, SimulatorConfig

    return Simulator(SimulatorConfig(port=0, speed=DEMO_SPEED, failure_rate=0.08)).start()


def demo_workspace(base_url: str) -> Workspace:
    """The demo's home, key and clock, on the simulator at ``base_url``."""
    from tui.engine.workspace import Workspace

    return Workspace.load(demo=True, base_url=base_url, key=ApiKey(DEMO_KEY),
                          time_scale=DEMO_SPEED)


def launch(*, demo: bool, simulator_url: str | None = None, read_only: bool = False,
           time_scale: float = 1.0) -> int:
    """The dashboard in this terminal (or browser tab).  ``simulator_url``: the demo on a
    simulator that is already running (``serve --demo`` starts one for every tab);
    ``read_only``: a viewer's dashboard (nothing billed, destructive or written)."""
    from tui.ui import graphics, heap

    heap.pause_for_startup()  # until the first page is shown (see ``tui.ui.heap``)
    graphics.start_detecting()  # asks while the modules below load
    from tui.config.credentials import CredentialsError
    from tui.engine.workspace import Workspace
    from tui.ui.app import PixverseApp

    graphics.finish_detecting()  # must be answered before Textual takes the terminal

    if demo and simulator_url is not None:
        app = PixverseApp(demo_workspace(simulator_url), read_only=read_only)
        app.run()
        return app.return_code or 0
    if demo:
        with start_demo_simulator() as sim:
            app = PixverseApp(demo_workspace(sim.base_url), read_only=read_only)
            app.run()
        return app.return_code or 0
    try:
        ws = Workspace.load(time_scale=time_scale)
    except CredentialsError as exc:
        import sys

        print(f"pixverse-tui: {exc}", file=sys.stderr)
        return 1
    app = PixverseApp(ws, read_only=read_only)
    result = app.run()
    if result == "demo":
        return launch(demo=True, read_only=read_only)
    return app.return_code or 0

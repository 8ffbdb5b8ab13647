"""Starting the dashboard: real, or the demo on a background simulator."""

from __future__ import annotations

from tui.dashscope import ApiKey
from tui.simulator import Simulator, SimulatorConfig

DEMO_SPEED = 10.0  # a typical 1–5 minute task takes 6–30 s
DEMO_KEY = "sk-demo-pixverse-tui"


def start_demo_simulator() -> Simulator:
    """A simulator on a free loopback port, in a background thread."""
    return Simulator(SimulatorConfig(port=0, speed=DEMO_SPEED, failure_rate=0.08)).start()


def launch(*, demo: bool) -> int:
    from tui.config.credentials import CredentialsError
    from tui.engine.workspace import Workspace
    from tui.ui import graphics
    from tui.ui.app import PixverseApp

    graphics.detect()  # must ask the terminal before Textual takes it over

    if demo:
        with start_demo_simulator() as sim:
            ws = Workspace.load(demo=True, base_url=sim.base_url, key=ApiKey(DEMO_KEY),
                                time_scale=DEMO_SPEED)
            app = PixverseApp(ws)
            app.run()
        return app.return_code or 0
    try:
        ws = Workspace.load()
    except CredentialsError as exc:
        import sys

        print(f"pixverse-tui: {exc}", file=sys.stderr)
        return 1
    app = PixverseApp(ws)
    result = app.run()
    if result == "demo":
        return launch(demo=True)
    return app.return_code or 0

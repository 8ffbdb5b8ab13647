"""Escape sequences for the terminal itself (its title, a desktop notification).

Textual has no public call to write to the terminal, but it lets an app choose its
driver (``App.get_driver_class``): the app's driver class is the platform's, made
to tell a ``Terminal`` where it is once it starts.  A headless run (tests) starts
no such driver, so its writes go nowhere.
"""

from __future__ import annotations

from typing import Any

from textual.driver import Driver


class Terminal:
    def __init__(self) -> None:
        self.driver: Driver | None = None

    def write(self, sequence: str) -> None:
        if self.driver is not None:
            self.driver.write(sequence)


def telling(base: type[Driver], terminal: Terminal) -> type[Driver]:
    """``base``, whose instances tell ``terminal`` they are the app's driver."""
    def __init__(self: Driver, app: Any, **kwargs: Any) -> None:
        base.__init__(self, app, **kwargs)
        terminal.driver = self

    telling_class: type[Driver] = type(base.__name__, (base,), {"__init__": __init__})
    return telling_class

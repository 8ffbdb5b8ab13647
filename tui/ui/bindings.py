"""Textual ``BINDINGS`` made from the action registry (``tui.ui.actions``).

A screen, widget or dialog declares the place it stands for (``PLACE``) and takes
its bindings from here, so every binding carries its registry id and a
``[keys]`` entry rebinds it wherever the action applies.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from tui.ui.actions import Action, Runs, Where, at

WIDGETS = frozenset({Where.COMPOSER, Where.TABLE, Where.PANE})  # places that are widgets


def textual_action(action: Action, place: Where) -> str:
    """The action string a binding at ``place`` runs (namespaced from there)."""
    if action.runs is Runs.APP and place is not Where.ANYWHERE:
        return f"app.{action.run}"
    if action.runs is Runs.SCREEN and place in WIDGETS:
        return f"screen.{action.run}"
    return action.run


def bindings(place: Where) -> list[BindingType]:
    """The bindings of every action that applies at ``place``, in the registry's order."""
    return [Binding(a.keys, textual_action(a, place), a.label, show=place in a.footer,
                    id=a.id, priority=a.priority) for a in at(place)]

"""Named tuples declared as ``typing.NamedTuple`` classes are, without importing ``typing``.

Importing ``typing`` costs every process 3–4 ms, the largest single part of what
separates ``pixverse-tui list`` from a bare Python script printing the same rows
(bench/RESULTS.md).  The records ``list`` reads (``Generation``, ``HistoryFilter`` …) are
named tuples; their modules declare them against this class at run time and against
``typing.NamedTuple`` for the type checker::

    TYPE_CHECKING = False  # (``typing.TYPE_CHECKING`` without importing typing)
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from storage.tuples import NamedTuple

The class made is what ``typing.NamedTuple`` makes: ``collections.namedtuple`` of the
annotated fields (the trailing ones with a value are its defaults), with the body's
methods, docstring and annotations set on it.
"""

from __future__ import annotations

import collections

_OWN = frozenset({"__module__", "__qualname__", "__classcell__"})
# What a named tuple's body may not define (``typing.NamedTuple`` refuses them too).
_REFUSED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields",
                      "_field_defaults", "_make", "_replace", "_asdict", "_source"})


class _Maker(type):
    """Makes each class declared with :class:`NamedTuple` as its base a named tuple."""

    def __new__(mcs, name: str, bases: tuple[type, ...],
                namespace: dict[str, object]) -> type:
        if not bases:  # ``NamedTuple`` itself
            return super().__new__(mcs, name, bases, namespace)
        annotations = namespace.get("__annotations__")
        if not isinstance(annotations, dict):  # (Python 3.14 keeps them in a function)
            raise TypeError(f"{name}: declare its fields with ``from __future__ import "
                            "annotations`` in its module")
        if refused := sorted(_REFUSED & namespace.keys()):
            raise AttributeError(f"{name}: a named tuple cannot define {', '.join(refused)}")
        fields = tuple(annotations)
        defaults = [namespace[field] for field in fields if field in namespace]
        if any(field not in namespace for field in fields[len(fields) - len(defaults):]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        made: type = collections.namedtuple(name, fields, defaults=defaults,  # type: ignore[misc]
                                            module=str(namespace["__module__"]))
        made.__qualname__ = str(namespace["__qualname__"])
        for key, value in namespace.items():
            if key not in _OWN and key not in fields:
                setattr(made, key, value)
        cell = namespace.get("__classcell__")
        if cell is not None:  # a method's zero-argument ``super()`` finds the class made
            cell.cell_contents = made  # type: ignore[attr-defined]
        return made


class NamedTuple(metaclass=_Maker):
    """The base to declare a named tuple with at run time (see the module's docstring)."""

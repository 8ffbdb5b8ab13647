"""Names a module offers but imports only when first asked for (PEP 562), so that a
reader of one page (``list``) does not pay for what it never uses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing's flag without importing typing (see storage/tuples.py)
if TYPE_CHECKING:
    from typing import Any


def lazy_names(owner: str, where: Mapping[str, str],
               namespace: dict[str, Any]) -> Callable[[str], object]:
    """A module's ``__getattr__``: each name of ``where`` from the module it names,
    imported when first asked for and kept in ``namespace`` (asked once)."""
    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        __import__(module)  # (not ``importlib``, which loads ``warnings`` for nothing)
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    return __getattr__

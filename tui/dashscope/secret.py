"""A wrapper that keeps the API key out of reprs, logs and tracebacks.

A key is checked when it is made: one line of printable ASCII, as every
DashScope key is (``sk-`` and hex digits).  Anything else — a second line, a
CR or LF inside, a space, a non-ASCII character — would be refused by the HTTP
library with an error that quotes the whole header, key included; so it is
refused here first, in words that never quote it.  Every key made is also
handed to :func:`storage.redact.remember`, so whatever the store writes and
the screens show is scrubbed of it.
"""

from __future__ import annotations

from storage.redact import remember


def key_problem(value: str) -> str | None:
    """Why ``value`` cannot be an API key, as words to follow "the API key" (``has 2
    lines``); None when it can.  Never quotes the key."""
    value = value.strip()
    if not value:
        return "is empty"
    lines = value.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1  # (any break)
    if lines > 1:
        return f"has {lines} lines"
    if not value.isascii():
        return "holds a character that is not ASCII (a key is letters, digits and dashes)"
    if any(not "!" <= char <= "~" for char in value):
        return "holds a space or a control character"
    return None


class ApiKey:
    """Holds the key; ``str``/``repr`` only ever show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        problem = key_problem(value)
        if problem is not None:
            raise ValueError(f"the API key {problem}")
        self._value = value.strip()
        remember(self._value)

    def reveal(self) -> str:
        """The real key, for the Authorization header only."""
        return self._value

    @property
    def masked(self) -> str:
        v = self._value
        if len(v) <= 8:
            return "sk-****"
        return f"{v[:3]}…{v[-4:]}"

    def __repr__(self) -> str:
        return f"ApiKey({self.masked})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ApiKey cannot be pickled")

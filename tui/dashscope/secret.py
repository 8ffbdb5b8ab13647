"""A wrapper that keeps the API key out of reprs, logs and tracebacks."""

from __future__ import annotations


class ApiKey:
    """Holds the key; ``str``/``repr`` only ever show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("the API key is empty")
        self._value = value

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

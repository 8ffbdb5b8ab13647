"""``storage.tuples.NamedTuple`` makes what ``typing.NamedTuple`` makes (issue 15: the
records ``list`` reads are declared with it, so that ``list`` never imports ``typing``).
The same class body, declared both ways, behaves the same."""

from __future__ import annotations

import pickle
import typing

import pytest

from storage import tuples


def declared(base: type) -> type:
    class Shot(base):  # type: ignore[misc,valid-type]
        """A shot in a batch."""

        prompt: str
        seconds: int = 5
        tags: tuple[str, ...] = ()

        def longer(self, by: int) -> Shot:
            return self._replace(seconds=self.seconds + by)  # type: ignore[attr-defined,no-any-return]

        @classmethod
        def short(cls, prompt: str) -> Shot:
            return cls(prompt, 3)  # type: ignore[no-any-return]

        def __str__(self) -> str:
            return f"{self.prompt} ({self.seconds} s)"

    return Shot


@pytest.mark.parametrize("base", [tuples.NamedTuple, typing.NamedTuple], ids=["ours", "typing"])
def test_a_named_tuple_declared_either_way_behaves_alike(base: type) -> None:
    shot = declared(base)
    made = shot("a fox", tags=("keep",))
    assert shot._fields == ("prompt", "seconds", "tags")
    assert shot._field_defaults == {"seconds": 5, "tags": ()}
    assert tuple(made) == ("a fox", 5, ("keep",))
    assert made.longer(3).seconds == 8 and made.seconds == 5
    assert shot.short("x") == ("x", 3, ())
    assert str(made) == "a fox (5 s)"
    assert repr(made) == "Shot(prompt='a fox', seconds=5, tags=('keep',))"
    assert shot.__doc__ == "A shot in a batch." and shot.__name__ == "Shot"
    assert shot.__qualname__.endswith("declared.<locals>.Shot")
    assert isinstance(made, tuple) and shot.__bases__ == (tuple,)
    assert list(shot.__annotations__) == ["prompt", "seconds", "tags"]
    with pytest.raises(AttributeError):
        made.prompt = "changed"


def test_a_field_without_a_default_after_one_with_is_refused_as_typing_refuses_it() -> None:
    for base in (tuples.NamedTuple, typing.NamedTuple):
        with pytest.raises(TypeError):
            class Bad(base):  # type: ignore[misc,valid-type]
                first: int = 1
                second: int


def test_the_records_pickle_and_compare_as_tuples() -> None:
    from storage.records import Who

    who = Who("ann@studio", "studio")
    assert pickle.loads(pickle.dumps(who)) == who
    assert who == ("ann@studio", "studio") and hash(who) == hash(("ann@studio", "studio"))


def test_what_typing_refuses_in_a_named_tuple_is_refused() -> None:
    """A body that defines ``_replace`` or ``__new__`` would silently replace the named
    tuple's own; a body whose fields cannot be read (no ``__annotations__``, as Python
    3.14 keeps them without ``from __future__ import annotations``) would have none."""
    with pytest.raises(AttributeError, match="_replace"):
        class Replacing(tuples.NamedTuple):
            name: str

            def _replace(self, **changes: object) -> None:
                pass

    with pytest.raises(TypeError, match="from __future__ import annotations"):
        tuples._Maker("Fieldless", (tuples.NamedTuple,),
                      {"__module__": __name__, "__qualname__": "Fieldless"})

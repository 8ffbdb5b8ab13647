"""Prompt templates: ``{a|b|c}`` alternatives expand into every combination, and
named variables (``{subject}``) are filled from values the user gives.

``a red {fox|owl} in {snow|rain}`` → four prompts, in reading order; ``{{`` and
``}}`` are literal braces.  A variable's value may hold alternatives itself
(``--var subject="fox|owl"``).  Nothing is sent from here: callers show the
expansion and its count first, and ask before going above a cap.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")
HARD_LIMIT = 10_000  # more combinations than anyone means: refused outright
CEILING = 10**15  # counts stop here: past it, "more than" is all anyone needs to read


class TemplateError(ValueError):
    """One sentence saying what is wrong with a template, and where."""


@dataclass(frozen=True)
class Part:
    """A literal piece (one choice) or a slot (several choices, or a variable)."""

    choices: tuple[str, ...]
    variable: str | None = None


def parse(text: str) -> list[Part]:
    """Split a template into literal parts and ``{…}`` slots."""
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal.append(char)
            i += 2
            continue
        if char == "}":
            raise TemplateError(f"a '}}' at character {i + 1} closes nothing "
                                "(write '}}}}' for a literal brace)")
        if char != "{":
            literal.append(char)
            i += 1
            continue
        end = text.find("}", i + 1)
        inner = text[i + 1:end] if end != -1 else ""
        if end == -1 or "{" in inner:
            raise TemplateError(f"the '{{' at character {i + 1} is not closed "
                                "(write '{{' for a literal brace)")
        if literal:
            parts.append(Part(("".join(literal),)))
            literal = []
        if "|" in inner:
            parts.append(Part(tuple(inner.split("|"))))
        elif NAME.fullmatch(inner.strip()):
            parts.append(Part((), variable=inner.strip()))
        else:
            raise TemplateError(f"'{{{inner}}}' at character {i + 1} is neither alternatives "
                                "({a|b}) nor a variable name ({subject})")
        i = end + 1
    if literal:
        parts.append(Part(("".join(literal),)))
    return parts


def variables(text: str) -> list[str]:
    """The variable names a template needs, in order of first use."""
    seen: dict[str, None] = {}
    for part in parse(text):
        if part.variable is not None:
            seen.setdefault(part.variable)
    return list(seen)


def count(text: str, values: Mapping[str, str] | None = None, *,
          ceiling: int = CEILING) -> int:
    """How many prompts ``expand`` would give, without building them — arithmetic, in
    the time it takes to read the template; above ``ceiling``, ``ceiling + 1``."""
    return _product(_filled(text, values or {}), ceiling)


def first(text: str, values: Mapping[str, str] | None = None) -> str:
    """The first prompt ``expand`` would give (each slot's first choice), built alone."""
    return "".join(part.choices[0] if part.choices else ""
                   for part in _filled(text, values or {}))


def expand(text: str, values: Mapping[str, str] | None = None, *,
           limit: int = HARD_LIMIT) -> list[str]:
    """Every combination of the alternatives, with the variables filled in; refused
    (before building any) above ``limit``."""
    parts = _filled(text, values or {})
    total = _product(parts, CEILING)
    if total > limit:
        raise TemplateError(f"this template makes {how_many(total)} prompts; at most "
                            f"{limit:,} are expanded")
    return ["".join(combo) for combo in itertools.product(*(p.choices for p in parts))]


def how_many(number: int) -> str:
    """``12,345`` — or, past ``CEILING``, ``more than 1,000,000,000,000,000``."""
    return f"{number:,}" if number <= CEILING else f"more than {CEILING:,}"


def _product(parts: list[Part], ceiling: int) -> int:
    total = 1
    for part in parts:
        total *= max(1, len(part.choices))
        if total > ceiling:  # stop before the number itself grows without bound
            return ceiling + 1
    return total


def is_template(text: str) -> bool:
    """Whether the text goes through ``expand``: any brace (``{{`` is one too)."""
    return "{" in text or "}" in text


def _filled(text: str, values: Mapping[str, str]) -> list[Part]:
    parts = []
    missing = []
    for part in parse(text):
        if part.variable is None:
            parts.append(part)
        elif part.variable in values:
            value = values[part.variable]
            if "|" in value and "{" not in value and "}" not in value:
                parts.append(Part(tuple(value.split("|"))))  # fox|owl: alternatives
            else:
                parts.extend(parse(value))  # a value may hold {a|b} too
        else:
            missing.append(part.variable)
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise TemplateError(f"no value for {names}: give it with --var NAME=VALUE "
                            "(or fill it in when asked)")
    return parts


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["subject=fox", "place=snow|rain"]`` → a mapping; one sentence on a bad pair."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not NAME.fullmatch(name):
            raise TemplateError(f"--var {pair!r} should look like NAME=VALUE "
                                "(a name of letters, digits, _ or -)")
        values[name] = value
    return values

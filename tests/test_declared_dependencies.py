"""pyproject.toml declares every package the code imports, each with a floor that
``.ci/run`` installs and proves (``.ci/floors.py``, ``.ci/smoke.py``)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"tui", "storage", "tests"}
OPTIONAL = {"msvcrt"}  # part of Python on Windows only


def imported_roots() -> set[str]:
    """Top-level names imported anywhere in the shipped code (inside functions too)."""
    names: set[str] = set()
    for folder in ("tui", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - OURS - OPTIONAL - set(sys.stdlib_module_names) - {"__future__"}


def declared(*, extras: bool = False) -> dict[str, str]:
    """The floors of the dependencies, and with ``extras`` those of the optional
    features a user installs (``postgres``, ``serve``; never the test tools)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if extras:
        for extra, more in project.get("optional-dependencies", {}).items():
            if extra != "test":
                requirements += more
    found = {}
    for requirement in requirements:
        name, floor = re.fullmatch(r"([A-Za-z0-9._-]+)>=([0-9][^,;\s]*)", requirement).groups()
        found[re.sub(r"[-_.]+", "-", name).lower()] = floor
    return found


def test_every_imported_package_is_declared_with_a_floor() -> None:
    distributions = importlib.metadata.packages_distributions()
    wanted = declared(extras=True)
    for module in sorted(imported_roots()):
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [])}
        assert names & set(wanted), (f"{module} is imported but declared neither as a "
                                     "dependency nor in a feature's extra")


def test_the_floors_script_pins_exactly_the_declared_floors() -> None:
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import floors  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    pins = floors.floors(ROOT / "pyproject.toml")
    assert {re.sub(r"[-_.]+", "-", p.split("==")[0]).lower(): p.split("==")[1]
            for p in pins} == declared()


def test_every_package_folder_is_shipped() -> None:
    """pyproject.toml lists packages by hand: a folder left out would install without
    its code (an editable install hides that; .ci/run's installed copy would not)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    folders = {".".join(init.parent.relative_to(ROOT).parts)
               for top in ("tui", "storage") for init in (ROOT / top).rglob("__init__.py")}
    assert folders - listed == set(), "not in [tool.setuptools] packages"

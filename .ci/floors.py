"""Print pip constraints pinning every dependency to the floor pyproject.toml declares.

``name>=1.2`` becomes ``name==1.2``: installing with these constraints builds the
oldest environment the project claims to support, and ``.ci/run`` starts the
app in it (``.ci/smoke.py``).  A dependency declared without a ``>=`` floor is
an error: every floor must be stated, and proven.

    python .ci/floors.py > floors.txt && pip install -c floors.txt .
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

FLOOR = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*"
                   r"(?:,[^;]*)?(?:;.*)?")


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        found = FLOOR.fullmatch(requirement)
        if found is None:
            raise SystemExit(f"{pyproject}: {requirement!r} declares no >= floor")
        pins.append(f"{found[1]}=={found[2]}")
    return pins


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    print("\n".join(floors(root / "pyproject.toml")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

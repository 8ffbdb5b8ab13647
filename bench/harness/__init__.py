"""What the benches share, so each bench script reads as what it measures.

* ``processes`` — child processes (started in their own group, each ended by its id),
  their environment, their memory and CPU from /proc;
* ``simulator`` — the simulator in a process of its own, counting every answer;
* ``figures`` — percentiles, waiting for a condition, side-by-side tables, the
  header line every run prints (command, date, cores, load);
* ``product`` — the product's own objects, as a user's process would make them: a
  workspace in a bench's home, tasks put in flight at the product's pace.

Importing ``harness`` puts the repository's root first on ``sys.path`` (a bench runs
the code of the tree it sits in, whatever is installed)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
for _folder in (BENCH, ROOT):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

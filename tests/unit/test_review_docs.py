"""docs/reviews.md's planner column is the planner's own output, never typed (issue 12 item
13: it said PASS and figures the planner no longer printed).

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_review_docs.py
"""

from __future__ import annotations

import os
import re

from phasestack.capacity import plan
from phasestack.paths import paths, planner_cell
from phasestack.stackfile import load, project_root

ROOT = project_root()
DOC = ROOT / "docs" / "reviews.md"
ROW = re.compile(r"^\| `(?P<name>[a-z0-9-]+)` \| (?P<what>.*) \| (?P<planner>[^|]*) \|$")


def expected_rows() -> dict[str, str]:
    return {name: planner_cell(plan(load(name, ROOT).stack, name))
            for names in paths(ROOT).values() for name in names}


def test_every_path_step_has_the_planners_own_cell():
    want = expected_rows()
    lines = DOC.read_text().splitlines()
    seen = {}
    for i, line in enumerate(lines):
        m = ROW.match(line)
        if m and m["name"] in want:
            seen[m["name"]] = m["planner"]
            lines[i] = f"| `{m['name']}` | {m['what']} | {want[m['name']]} |"
    if os.environ.get("UPDATE_GOLDEN"):
        DOC.write_text("\n".join(lines) + "\n")
        seen = {n: want[n] for n in seen}
    assert set(seen) == set(want), f"steps without a row: {set(want) - set(seen)}"
    wrong = {n: (seen[n], want[n]) for n in want if seen[n] != want[n]}
    assert not wrong, f"planner column differs (UPDATE_GOLDEN=1 regenerates it): {wrong}"

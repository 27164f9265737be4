"""Each scaling review's migration path as an ordered list of stacks (pure).

A stack joins a review's path with `phasestack:review: "<id>"` in its stack file; its name
ends in the phase name (mvp, phase1, phase2, phase3), so stackfile's ordering is path order.
docs/reviews.md says what each step changes and what a review asks for that is not deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phasestack.plan.capacity import PASS, Report
from phasestack.stackfile import StackError, list_stack_files, load


@dataclass(frozen=True)
class Review:
    id: str
    system: str
    file: str
    prefix: str  # stack names of the path start with "<prefix>-"


REVIEWS: dict[str, Review] = {r.id: r for r in (
    Review("000", "Brivara Capital", "000_f42598e3354b7376.txt", "brivara"),
    Review("001", "Eco-Bottle", "001_9fbd6927d93be06f.txt", "ecobottle"),
    Review("002", "ZeroPay", "002_f99052a1f9a0162e.txt", "zeropay"),
    Review("003", "PixEcom v2", "003_dcc3c24c5985e7cb.txt", "pixecom"),
    Review("004", "Primetrade", "004_d605809f7a985140.txt", "primetrade"),
)}


def paths(root: Path | None = None,
          skipped: list[str] | None = None) -> dict[str, list[str]]:
    """Review id -> its stack names in path order, from each stack file's phasestack:review.

    root is the project directory holding stacks/ (the current directory if None). Stacks
    without a review are left out. A stack file that does not load raises StackError, or,
    with `skipped`, adds its problems there and the others are still read.
    """
    out: dict[str, list[str]] = {}
    for path in list_stack_files(root):
        try:
            loaded = load(path)
        except StackError as err:
            if skipped is None:
                raise
            skipped.extend(err.problems)
            continue
        if loaded.stack.review is not None:
            out.setdefault(loaded.stack.review, []).append(loaded.name)
    return {rid: out[rid] for rid in sorted(out)}


def paths_table(found: dict[str, list[str]]) -> str:
    """A plain-text table: review id, system, review file, and the path's steps."""
    rows = [("review", "system", "file", "path")]
    for rid, names in found.items():
        review = REVIEWS.get(rid)
        rows.append((rid, review.system if review else "?", review.file if review else "?",
                     " -> ".join(names)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]))
    return "\n".join(lines)


def planner_cell(report: Report) -> str:
    """The planner column of docs/reviews.md for one step, computed (issue 12: the doc's typed
    figures had drifted from the planner's): the verdict, what breaks first, and every check
    that is not a PASS with its figure."""
    out = [report.verdict]
    b = report.breaks_at
    if b:
        out.append(f"{'broken now' if b['now'] else 'breaks first'}: {b['component']} "
                   f"({b['check']}) at ~{b['users']:,} users")
    out += [f"{c.status} {c.name}: {c.reason}" for c in report.checks if c.status != PASS]
    return "; ".join(out)

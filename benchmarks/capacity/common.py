"""What every capacity benchmark shares: the host's description, CPU pinning (the server under
test on a core of its own, the load generator on another), the result row and its table."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

SERVER_CPU, LOAD_CPU = "0", "1"  # the server under test; load generator, backends, the rest


def machine() -> str:
    """The host the figures were measured on: CPU model, cores, memory, kernel."""
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal"))
    return (f"{os.cpu_count()} x {model}, {mem_kib / 2**20:.0f} GiB, "
            f"Linux {platform.release()}")


def pinned(cmd: list[str], cpu: str) -> list[str]:
    """`cmd` on one CPU (taskset) where the host has two or more, else as is."""
    taskset = shutil.which("taskset")
    if not taskset or (os.cpu_count() or 1) < 2:
        return cmd
    return [taskset, "-c", cpu, *cmd]


def pin(pid: int, cpu: str) -> None:
    """Move a running server, every thread of it, to one CPU."""
    taskset = shutil.which("taskset")
    if taskset and (os.cpu_count() or 1) >= 2:
        subprocess.run([taskset, "-a", "-p", "-c", cpu, str(pid)], check=True,
                       capture_output=True)


@dataclass(frozen=True)
class Row:
    """One figure: what the planner assumes, what this host measured, and how."""

    figure: str             # the planner's name for it ("nginx.rps_per_replica") or a label
    unit: str
    assumed: float | None   # None: the planner has no such number (a finding, not a ratio)
    measured: float | None  # None: the run could not measure it (see `how`)
    how: str

    @property
    def ratio(self) -> str:
        if self.assumed is None or self.measured is None:
            return "-"
        return f"{self.measured / self.assumed:.2f}"

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def _shown(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if abs(x) >= 10 else f"{x:.2f}"


def table(rows: list[Row]) -> str:
    head = ("figure", "unit", "assumed", "measured on this host", "ratio")
    cells = [head, *[(r.figure, r.unit, _shown(r.assumed), _shown(r.measured), r.ratio)
                     for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
             for cell in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.figure}: {r.how}" for r in rows]
    return "\n".join([*lines, "", "how each was measured:", *notes])

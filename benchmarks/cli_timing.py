"""Measure and print CLI timings (no assertions): plan/render/diff of phase3 as whole
processes, and how in-process synthesis grows with the number of API workloads.

    .venv/bin/python benchmarks/cli_timing.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASESTACK = str(Path(sys.executable).parent / "phasestack")


def median_process(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([PHASESTACK, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_synth(workers: int, runs: int) -> tuple[float, int]:
    from phasestack.stackfile import load
    from phasestack.synth.secrets import CREDENTIALS
    from phasestack.targets import kubernetes as render

    base = load("phase3", ROOT).stack
    # the API Deployment plus workers - 1 queue-worker Deployments
    data = base.model_dump()
    data["api"]["workers"] = [{"name": f"w{i}", "replicas": 1} for i in range(workers - 1)]
    stack = type(base).model_validate(data)
    values = {c: "x" for c in CREDENTIALS}
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        docs = render.manifests(stack, values)
        render.stdout_text(docs)
        times.append(time.perf_counter() - start)
        count = len(docs)
    return statistics.median(times), count


def median_python(code: str, runs: int) -> float:
    """A whole `python -c CODE` process, the floors the CLI is measured against."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# `phasestack plan phase3` step by step in one process: what is the floor, what is ours
STAGES = """\
import time
marks = [("python started", time.perf_counter())]
def mark(what):
    marks.append((what, time.perf_counter()))
import pydantic, jinja2, yaml, click; mark("import floor (pydantic jinja2 yaml click)")
from pydantic import BaseModel; mark("pydantic's BaseModel machinery")
import phasestack.model; mark("phasestack.model: the model classes")
from phasestack import cli; from phasestack.stackfile import load
from phasestack.plan import alerts, capacity, report; mark("the CLI, stackfile, planner")
loaded = load("phase3"); mark("load phase3 (parse, validate: builds the schemas)")
r = capacity.plan(loaded.stack, loaded.name); mark("capacity.plan")
guards = alerts.guards(loaded.stack); mark("alerts.guards (renders the alert rules)")
report.table(r); mark("report.table")
for (_, t0), (what, t1) in zip(marks, marks[1:]):
    print(f"  {what:<52} {1000 * (t1 - t0):6.1f} ms")
"""

BIG = """\
# issue 17: 50 API workloads (the API + 49 workers) and a 96-master Redis Cluster
config:
  phasestack:phase: phase3
  phasestack:namespace: big
  phasestack:redis: {masters: 96}
  phasestack:api:
    workers:
"""


def big_stack(where: Path) -> Path:
    path = where / "Pulumi.big.yaml"
    path.write_text(BIG + "".join(f"      - {{name: w{i}, replicas: 1}}\n" for i in range(49)))
    return path


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(ROOT))  # run as a script: benchmarks/ is not on the path
    from benchmarks.capacity.common import machine

    compiled = any((ROOT / "phasestack" / "__pycache__").glob("*.pyc"))
    print(f"on {machine()}; phasestack bytecode "
          f"{'compiled (make install)' if compiled else 'NOT compiled: every run compiles it'}")
    floor = median_python("pass", runs)
    imports = median_python("import pydantic, jinja2, yaml, click", runs)
    print(f"python -c pass                         median {floor:.3f} s")
    print(f"import floor (pydantic jinja2 yaml click) median {imports:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        big = str(big_stack(Path(tmp)))
        timed = {}
        for args in (["plan", "phase3"], ["render", "phase3", "--stdout"],
                     ["diff", "phase2", "phase3"], ["render", big, "--stdout"]):
            key = (args[0], "big" if args[1] == big else args[1])
            timed[key] = t = median_process(args, runs)
            shown = " ".join(a if a != big else "<50 workloads, 96 masters>" for a in args)
            print(f"phasestack {shown:<40} median {t:.3f} s = {t / imports:.2f} x the import "
                  f"floor, over {runs} runs")
    big_ratio = timed["render", "big"] / timed["render", "phase3"]
    print(f"render of 50 workloads and 96 masters / render phase3: {big_ratio:.2f}")
    for what, ratio, target in (("plan / import floor", timed["plan", "phase3"] / imports, 1.3),
                                ("render phase3 / import floor",
                                 timed["render", "phase3"] / imports, 1.6),
                                ("render big / render phase3", big_ratio, 2.0)):
        print(f"issue 17 target {what} <= {target}: {ratio:.2f} "
              f"{'met' if ratio <= target else 'NOT met'}")
    print("where one `plan phase3` process spends its time (one run, in process):")
    subprocess.run([sys.executable, "-c", STAGES], cwd=ROOT, check=True)
    for n in (1, 10, 50):
        t, count = median_synth(n, runs)
        print(f"synthesize + dump, phase3 with {n:>2} API workloads: {count:>4} manifests, "
              f"median {t * 1000:.1f} ms")


if __name__ == "__main__":
    main()

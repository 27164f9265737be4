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
    print(f"render of 50 workloads and 96 masters / render phase3: "
          f"{timed['render', 'big'] / timed['render', 'phase3']:.2f}")
    for n in (1, 10, 50):
        t, count = median_synth(n, runs)
        print(f"synthesize + dump, phase3 with {n:>2} API workloads: {count:>4} manifests, "
              f"median {t * 1000:.1f} ms")


if __name__ == "__main__":
    main()

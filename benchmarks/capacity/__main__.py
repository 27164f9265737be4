"""Measure the planner's assumed capacities on real servers started with the rendered configs
and print "assumed | measured on this host | ratio" (never fails on a number):

    .venv/bin/python -m benchmarks.capacity [--stack phase2] [--seconds 10] [--json FILE]

--json writes the figures as `phasestack plan --calibration FILE` reads them. Needs what
`make test` installs: nginx, wrk, PostgreSQL (pgbench), PgBouncer 1.21+ and Valkey
(toolchain/pgbouncer.sh, toolchain/valkey.sh; PHASESTACK_PGBOUNCER / PHASESTACK_VALKEY_BIN
name them, else they are built)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _pytest.outcomes import OutcomeException

from benchmarks.capacity import nginx_lb, postgres_pool, redis_server
from benchmarks.capacity.common import Row, machine, table
from phasestack.stackfile import load, project_root
from tests.integration.conftest import Servers, _built

ROOT = project_root()


def _scratch(parent: Path) -> Path:
    """A directory the postgres user can traverse and write (the servers run as postgres)."""
    d = Path(tempfile.mkdtemp(prefix="capacity-", dir=parent))
    d.chmod(0o777)
    return d


def _run(what: str, step: Callable[[Servers, Path], list[Row]], parent: Path) -> list[Row]:
    servers = Servers()
    try:
        return step(servers, _scratch(parent))
    except OutcomeException as missing:  # conftest.require: a server binary is not installed
        print(f"skipped {what}: {missing.msg}", file=sys.stderr)
        return []
    finally:
        servers.stop_all()


def figures(rows: list[Row], stack_mode: str) -> dict[str, float]:
    """The planner fields the rows measured, keyed as --calibration reads them."""
    by = {r.figure: r.measured for r in rows if r.measured is not None}
    out = {}
    if "nginx.rps_per_replica" in by:
        out["nginx.rps_per_replica"] = round(by["nginx.rps_per_replica"], 1)
    for mode, label in (("standalone", "redis.ops_per_master (standalone)"),
                        ("cluster", "redis.ops_per_master (Cluster)")):
        if label in by:
            out[f"redis.ops_per_master.{mode}"] = round(by[label], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity")
    parser.add_argument("--stack", default="phase2",
                        help="stack whose nginx, PgBouncer, PostgreSQL and Redis Cluster "
                             "configs are measured (default phase2)")
    parser.add_argument("--standalone-stack", default="phase1",
                        help="stack whose standalone Redis config is measured (default phase1)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each run")
    parser.add_argument("--requests", type=int, default=200_000,
                        help="redis-benchmark requests per command")
    parser.add_argument("--json", type=Path, help="write the figures for plan --calibration")
    args = parser.parse_args()
    stack = load(args.stack, ROOT).stack
    standalone = load(args.standalone_stack, ROOT).stack
    # the servers are the ones `make test` starts (built once, cached outside the checkout)
    os.environ["PATH"] = f"{_built('PHASESTACK_VALKEY_BIN', 'valkey.sh', 'no Valkey')}:" \
                         f"{os.environ['PATH']}"
    host = machine()
    print(f"measuring on {host}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="phasestack-capacity-") as tmp:
        parent = Path(tmp)
        parent.chmod(0o711)
        rows = [
            *_run("nginx", lambda s, w: nginx_lb.measure(stack, s, w, args.seconds), parent),
            *_run("Redis", lambda s, w: [redis_server.standalone(standalone, s, w,
                                                                 args.requests)], parent),
            *(_run("Redis Cluster", lambda s, w: [redis_server.cluster_master(
                stack, s, w, args.requests)], parent) if stack.redis.mode == "cluster" else []),
            *_run("PgBouncer and PostgreSQL",
                  lambda s, w: postgres_pool.measure(stack, s, w, args.seconds), parent),
        ]
    print(f"capacity of the rendered configs ({args.stack}; Redis standalone: "
          f"{args.standalone_stack}) on {host}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": host, "stack": args.stack,
            "figures": figures(rows, stack.redis.mode),
            "measurements": [r.as_dict() for r in rows]}, indent=2) + "\n")
        print(f"\nwrote {args.json} (phasestack plan STACK --calibration {args.json})")


if __name__ == "__main__":
    main()

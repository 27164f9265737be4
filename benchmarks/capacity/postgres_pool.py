"""PgBouncer and PostgreSQL: a primary + replica from the rendered postgresql.conf, pg_hba.conf
and init scripts, the rendered pgbouncer.ini in front (tests/integration/pg_helpers.py).

- PgBouncer: transactions/s with clients = 10 x the pool (at most max_client_conn, what one
  pod admits), transaction pooling, each transaction one query of the app profile's query_ms;
  then the same clients straight to PostgreSQL, past its max_connections (which must fail).
- PostgreSQL: queries/s with as many connections as PgBouncer's pool opens, at query_ms spent
  waiting (the planner's model: connections / query time) and at query_ms spent on the CPU.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from benchmarks.capacity.common import Row
from phasestack.model import Stack
from tests.integration.conftest import PG_BIN, Servers, require
from tests.integration.pg_helpers import PATH, PgCluster, start_cluster, write
from tests.integration.test_pgbouncer_server import start_pgbouncer


def _pgbench(c: PgCluster, port: int, script: Path, clients: int, seconds: int,
             check: bool = True) -> subprocess.CompletedProcess:
    pg = c.stack.postgres
    done = subprocess.run(
        [require(str(PG_BIN / "pgbench")), "-h", "127.0.0.1", "-p", str(port), "-U",
         pg.app_user, "-n", "-f", str(script), "-c", str(clients), "-j", "2",
         "-T", str(seconds), pg.database],
        env={"PATH": PATH, "PGPASSWORD": c.app_password}, capture_output=True, text=True,
        timeout=seconds + 120)
    if check and done.returncode:
        raise RuntimeError(f"pgbench failed: {done.stdout}{done.stderr}")
    return done


def _tps(out: str) -> float:
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not found:  # pgbench prints no tps when no transaction finished in the run
        raise RuntimeError(f"pgbench finished no transaction: {out[-300:]}")
    return float(found.group(1))


def _failed(out: str) -> int:
    found = re.search(r"number of failed transactions: (\d+)", out)
    return int(found.group(1)) if found else 0


def _latency_ms(out: str) -> float:
    return float(re.search(r"latency average = ([\d.]+) ms", out).group(1))


def measure(stack: Stack, servers: Servers, workdir: Path, seconds: int) -> list[Row]:
    pg, pgb, app = stack.postgres, stack.pgbouncer, stack.app
    c = start_cluster(stack, servers, workdir)
    port = start_pgbouncer(stack, c, servers, workdir)
    query_s = app.query_ms / 1000
    wait = write(workdir / "wait.sql", f"SELECT pg_sleep({query_s});\n")
    pool = pgb.default_pool_size
    clients = min(10 * pool, pgb.max_client_conn)
    capped = "" if clients == 10 * pool else \
        f" (10 x pool {pool} = {10 * pool} is over one pod's max_client_conn)"
    assumed = pool / query_s  # the planner's db_server limit for one pod's pool

    # logging hundreds of clients in (SCRAM) takes seconds of its own: a run of at least 10 s
    long = max(seconds, 10)
    through = _pgbench(c, port, wait, clients, long)
    direct = _pgbench(c, c.primary_port, wait, clients, long, check=False)
    refused = re.search(r"FATAL:\s+([^\n]+)", direct.stderr)
    direct_said = (f"refused: pgbench exit {direct.returncode}, "
                   f"\"{refused.group(1) if refused else direct.stderr.strip()[-120:]}\""
                   if direct.returncode else
                   f"NOT refused: {_tps(direct.stdout):,.0f} tps (max_connections "
                   f"{pg.max_connections} held {clients} clients)")

    # the same query time burnt on the CPU: generate_series sized to query_ms on one client
    probe, n = workdir / "probe.sql", 200_000
    write(probe, f"SELECT count(*) FROM generate_series(1, {n});\n")
    one = _latency_ms(_pgbench(c, c.primary_port, probe, 1, 3).stdout)
    n = max(1, int(n * app.query_ms / one))
    cpu = write(workdir / "cpu.sql", f"SELECT count(*) FROM generate_series(1, {n});\n")
    waited = _pgbench(c, c.primary_port, wait, pool, seconds)
    burnt = _pgbench(c, c.primary_port, cpu, pool, seconds)
    return [
        Row("pgbouncer: pool throughput", "tps per pod", assumed, _tps(through.stdout),
            f"pgbench {clients} clients{capped} through the rendered pgbouncer.ini "
            f"(pool_mode {pgb.pool_mode}, default_pool_size {pool}), {long} s, each "
            f"transaction SELECT pg_sleep({query_s:g}); {_failed(through.stdout)} failed; "
            f"assumed: pool {pool} / query_s {query_s:g} (the db_server_connections limit)"),
        Row("pgbouncer: same clients without it", "tps", None,
            None if direct.returncode else _tps(direct.stdout),
            f"the same {clients} clients straight to PostgreSQL (max_connections "
            f"{pg.max_connections}): {direct_said}"),
        Row("postgres: queries waiting query_ms", "queries/s", assumed, _tps(waited.stdout),
            f"pgbench {pool} connections (the pool) straight to the primary, SELECT "
            f"pg_sleep({query_s:g}), {seconds} s"),
        Row("postgres: queries on the CPU for query_ms", "queries/s", assumed,
            _tps(burnt.stdout),
            f"pgbench {pool} connections, generate_series(1, {n:,}) ({one:.1f} ms for "
            f"{200_000:,} alone, scaled to query_ms {app.query_ms:g}), {seconds} s: the "
            f"planner's connections / query time holds for waiting queries only; CPU-bound "
            f"ones top out near cores / query time"),
    ]

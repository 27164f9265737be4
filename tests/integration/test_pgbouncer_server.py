"""PgBouncer 1.21+ (conftest.pgbouncer_binary) with the rendered pgbouncer.ini in front of a
real primary + replica: SCRAM logins from the Secret's userlist, read-write and read-only
databases, transaction pooling
under a bounded pgbench load with more clients than server connections."""

from __future__ import annotations

import re
import subprocess

from phasestack.stackfile import load
from phasestack.synth import pgbouncer, secrets
from tests.integration.conftest import (
    PG_BIN,
    as_postgres,
    free_port,
    pgbouncer_binary,
    port_open,
    require,
    wait_for,
)
from tests.integration.pg_helpers import PATH, crash, start_cluster, write


def table(text: str) -> list[dict[str, str]]:
    """psql -A output with a header row -> list of rows."""
    lines = [line for line in text.splitlines() if "|" in line]
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"), strict=True)) for line in lines[1:]]


def start_pgbouncer(stack, c, servers, workdir) -> int:
    """The rendered pgbouncer.ini and the Secret's userlist in front of cluster `c`; its port."""
    binary = pgbouncer_binary()
    port = free_port()
    userlist = write(workdir / "userlist.txt", secrets.userlist(stack, c.app_password), 0o640)
    subprocess.run(["chown", "root:postgres", str(userlist)], check=True)
    ini = write(workdir / "pgbouncer.ini", pgbouncer.pgbouncer_ini(
        stack, rw_host="127.0.0.1", rw_port=c.primary_port, ro_host="127.0.0.1",
        # as rendered: the read-only database is the primary until the stack has replicas
        ro_port=c.replica_port if stack.postgres.read_replicas else c.primary_port,
        listen_addr="127.0.0.1", listen_port=port,
        auth_file=str(userlist), logfile=str(workdir / "pgbouncer.log"),
        pidfile=str(workdir / "pgbouncer.pid"), unix_socket_dir=""))
    servers.start(as_postgres([binary, str(ini)]), workdir / "pgbouncer.out")
    wait_for(lambda: port_open(port), timeout=15, what="pgbouncer")
    return port


def test_pgbouncer_pools_the_primary_and_routes_ro_to_the_replica(servers, workdir):
    require(str(PG_BIN / "pgbench"))
    stack = load("phase2").stack
    pg, pgb = stack.postgres, stack.pgbouncer
    c = start_cluster(stack, servers, workdir)

    port = start_pgbouncer(stack, c, servers, workdir)

    # the app logs in through PgBouncer (SCRAM against the userlist) to both databases
    assert c.psql_app(port, "SELECT pg_is_in_recovery()", db=pg.database).stdout.strip() == "f"
    ro_db = pgbouncer.ro_database(stack)
    assert ro_db == "app_ro"
    assert c.psql_app(port, "SELECT pg_is_in_recovery()", db=ro_db).stdout.strip() == "t"
    assert c.psql_app(port, "SHOW statement_timeout", db=pg.database).stdout.strip() == "30s"
    c.app_password, good = "not-the-password", c.app_password
    denied = c.psql_app(port, "SELECT 1", db=pg.database, check=False)
    c.app_password = good
    assert denied.returncode != 0 and "SASL authentication failed" in denied.stderr

    # the admin console (app is a stats user) reports transaction pooling for both databases
    pools = table(_console(c, port, "SHOW POOLS"))
    modes = {row["database"]: row["pool_mode"] for row in pools if row["user"] == pg.app_user}
    assert modes == {pg.database: "transaction", ro_db: "transaction"}
    dbs = {row["name"]: row for row in table(_console(c, port, "SHOW DATABASES"))}
    assert dbs[pg.database]["port"] == str(c.primary_port)
    assert dbs[ro_db]["port"] == str(c.replica_port)
    assert dbs[pg.database]["pool_size"] == str(pgb.default_pool_size) == "50"

    # bounded pgbench through PgBouncer with more clients than the pool has server connections
    env = {"PATH": PATH, "PGPASSWORD": c.app_password}
    base = [str(PG_BIN / "pgbench"), "-h", "127.0.0.1", "-U", pg.app_user]
    subprocess.run([*base, "-p", str(c.primary_port), "-i", "-s", "1", "-q", pg.database],
                   env=env, check=True, capture_output=True, timeout=60)
    clients = pgb.default_pool_size + 15
    run = subprocess.run([*base, "-p", str(port), "-c", str(clients), "-j", "2", "-T", "5",
                          "--no-vacuum", pg.database],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(rf"number of clients: {clients}\n", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    assert failed and failed.group(1) == "0", run.stdout
    done = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    assert done and int(done.group(1)) > clients, run.stdout

    # PostgreSQL saw at most pool + reserve server connections from PgBouncer, not one per client
    server_conns = int(c.psql_super(
        c.primary_port, "SELECT count(*) FROM pg_stat_activity "
        f"WHERE usename = '{pg.app_user}' AND datname = '{pg.database}'"))
    assert 0 < server_conns <= pgb.default_pool_size + pgb.reserve_pool_size < clients


def _console(c, port: int, command: str) -> str:
    proc = subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-A", "-h", "127.0.0.1", "-p", str(port), "-U",
         c.stack.postgres.app_user, "-d", "pgbouncer", "-c", command],
        env={"PATH": PATH, "PGPASSWORD": c.app_password}, capture_output=True, text=True,
        timeout=15)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_dead_primary_is_an_error_in_seconds_not_a_two_minute_wait(servers, workdir):
    """The audit (issue 11): with PgBouncer's default query_wait_timeout a write blocked 119.7 s
    after the primary died, while nginx gives up at 35 s. The rendered settings must answer
    the client with an error before nginx's read timeout."""
    import time

    stack = load("phase2").stack
    pg = stack.postgres
    c = start_cluster(stack, servers, workdir)
    port = start_pgbouncer(stack, c, servers, workdir)
    c.psql_app(port, "CREATE TABLE IF NOT EXISTS t (v int)", db=pg.database)

    # the primary crashes (SIGKILL to the postmaster: no shutdown, connections reset)
    crash(workdir / "primary")
    wait_for(lambda: not port_open(c.primary_port), timeout=15, what="primary gone")

    read_timeout = stack.request_timeout_s  # nginx's proxy_read_timeout
    started = time.monotonic()
    write_ = c.psql_app(port, "INSERT INTO t VALUES (1)", db=pg.database, check=False)
    elapsed = time.monotonic() - started
    print(f"write through PgBouncer with the primary dead: error after {elapsed:.1f} s "
          f"(nginx read timeout {read_timeout} s)")
    assert write_.returncode != 0
    assert "server" in write_.stderr or "query_wait_timeout" in write_.stderr, write_.stderr
    assert elapsed < stack.pgbouncer.query_wait_timeout_s + 2 < read_timeout

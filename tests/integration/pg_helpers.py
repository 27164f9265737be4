"""A primary + streaming replica on 127.0.0.1 built from the rendered phasestack files.

Shared by test_postgres_server.py and test_pgbouncer_server.py. Everything runs as the postgres
user (conftest.as_postgres), on free ports, and is stopped by PID by the `servers` fixture.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from phasestack.model import MONITOR_USER, Stack
from phasestack.synth import postgres
from tests.integration.conftest import (
    PG_BIN,
    Servers,
    as_postgres,
    free_port,
    port_open,
    require,
    wait_for,
)

PATH = f"{PG_BIN}:/usr/bin:/bin"


@dataclass
class PgCluster:
    stack: Stack
    workdir: Path
    socket_dir: Path
    primary_port: int
    replica_port: int
    app_password: str
    replication_password: str
    monitor_password: str

    def psql_super(self, port: int, sql: str, db: str = "postgres") -> str:
        """As superuser postgres over the socket (peer auth from the rendered pg_hba.conf)."""
        return run_as_postgres([str(PG_BIN / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                "-h", str(self.socket_dir), "-p", str(port), "-U", "postgres",
                                "-d", db, "-c", sql], {}).stdout.strip()

    def psql_app(self, port: int, sql: str, db: str | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
        """As the app role over TCP with its password (SCRAM)."""
        pg = self.stack.postgres
        return self.psql_tcp(pg.app_user, self.app_password, port, sql, db or pg.database, check)

    def psql_tcp(self, user: str, password: str, port: int, sql: str, db: str,
                 check: bool = True) -> subprocess.CompletedProcess:
        """As `user` over TCP on 127.0.0.1 with its password, as a pod connects."""
        proc = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(port), "-U", user, "-d", db, "-c", sql],
            env={"PATH": PATH, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"},
            capture_output=True, text=True, timeout=30)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc


def run_as_postgres(cmd: list[str], env: dict[str, str], timeout: float = 60,
                    check: bool = True) -> subprocess.CompletedProcess:
    full = as_postgres(["/usr/bin/env", "-i", f"PATH={PATH}", "LC_ALL=C.UTF-8",
                        *[f"{k}={v}" for k, v in env.items()], *cmd])
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _start(servers: Servers, cluster: PgCluster, data: Path, port: int, name: str,
           extra: str = "") -> None:
    """The rendered postgresql.conf (`extra`: settings after it, which win)."""
    conf = write(cluster.workdir / f"{name}.conf", postgres.postgresql_conf(
        cluster.stack, listen_addresses="127.0.0.1", port=port,
        unix_socket_dir=str(cluster.socket_dir), hba_file=str(cluster.workdir / "pg_hba.conf"))
        + extra)
    servers.start(as_postgres([str(PG_BIN / "postgres"), "-D", str(data),
                               "-c", f"config_file={conf}"]),
                  cluster.workdir / f"{name}.log")
    wait_for(lambda: port_open(port), timeout=30, what=f"postgres {name}")
    wait_for(lambda: run_as_postgres([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p",
                                      str(port)], {}, check=False).returncode == 0,
             timeout=30, what=f"postgres {name} accepting connections")


def crash(data: Path) -> None:
    """SIGKILL the postmaster of the cluster in `data`: no shutdown, connections reset."""
    os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)


REPLICA_POD = "postgres-replica-0"  # the StatefulSet's first pod; names its slot


def start_cluster(stack: Stack, servers: Servers, workdir: Path, primary_extra: str = "",
                  replica_extra: str = "") -> PgCluster:
    """initdb + primary + init-roles.sh, then a replica cloned by replica-bootstrap.sh
    (`*_extra`: settings after the rendered postgresql.conf)."""
    for tool in ("initdb", "postgres", "pg_basebackup", "pg_isready", "psql"):
        require(str(PG_BIN / tool))
    socket_dir = workdir / "run"
    socket_dir.mkdir(mode=0o777)
    socket_dir.chmod(0o777)
    cluster = PgCluster(stack, workdir, socket_dir, free_port(), free_port(),
                        *(secrets.token_urlsafe(24) for _ in range(3)))
    write(workdir / "pg_hba.conf", postgres.pg_hba(stack))

    primary = workdir / "primary"
    run_as_postgres([str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C"], {})
    _start(servers, cluster, primary, cluster.primary_port, "primary", primary_extra)

    # the same init-roles.sh / init-roles.sql text the pod's entrypoint runs, the passwords as
    # files named by *_FILE, as the pod mounts them from the Secret
    sql = write(workdir / "init-roles.sql", postgres.init_sql(stack))
    script = write(workdir / "init-roles.sh", postgres.init_script(stack), 0o755)
    secret_dir = workdir / "secrets"
    secret_dir.mkdir()
    files = {f"{var}_FILE": str(write(secret_dir / key, value)) for var, key, value in [
        ("APP_PASSWORD", "app-password", cluster.app_password),
        ("REPLICATION_PASSWORD", "replication-password", cluster.replication_password),
        ("MONITOR_PASSWORD", "monitor-password", cluster.monitor_password)]}
    run_as_postgres(["sh", str(script)], {
        "PGHOST": str(socket_dir), "PGPORT": str(cluster.primary_port), "INIT_SQL": str(sql),
        **files})

    start_standby(cluster, servers, "replica", cluster.replica_port, REPLICA_POD, replica_extra)
    return cluster


def start_standby(cluster: PgCluster, servers: Servers, name: str, port: int, pod: str,
                  extra: str = "") -> Path:
    """A streaming standby of the cluster's primary in workdir/<name>, cloned by the same
    replica-bootstrap.sh the replica's init container runs (through the slot of `pod`)."""
    workdir = cluster.workdir
    bootstrap = write(workdir / "replica-bootstrap.sh",
                      postgres.replica_bootstrap_script(cluster.stack), 0o755)
    password = write(workdir / "secrets" / f"replication-password-{name}",
                     cluster.replication_password)
    data = workdir / name
    run_as_postgres(["sh", str(bootstrap)], {
        "PGDATA": str(data), "PRIMARY_HOST": "127.0.0.1",
        "PRIMARY_PORT": str(cluster.primary_port), "PGPASSWORD_FILE": str(password),
        "WAIT_SECONDS": "20", "POD_NAME": pod}, timeout=120)
    assert (data / "standby.signal").exists(), "pg_basebackup -R wrote no standby.signal"
    _start(servers, cluster, data, port, name, extra)
    return data


# The statement postgres_exporter v0.15.0 runs for --collector.stat_statements on PostgreSQL 13+
# (collector/pg_stat_statements.go, pgStatStatementsNewQuery), in the database of its
# DATA_SOURCE_URI. Each row becomes pg_stat_statements_{calls,seconds,rows,...}_total
# {user, datname, queryid}: the series the PostgresQueryLatency alerts divide.
EXPORTER_STAT_STATEMENTS_SQL = """
SELECT pg_get_userbyid(userid) as user, pg_database.datname, pg_stat_statements.queryid,
       pg_stat_statements.calls as calls_total,
       pg_stat_statements.total_exec_time / 1000.0 as seconds_total,
       pg_stat_statements.rows as rows_total,
       pg_stat_statements.blk_read_time / 1000.0 as block_read_seconds_total,
       pg_stat_statements.blk_write_time / 1000.0 as block_write_seconds_total
  FROM pg_stat_statements
  JOIN pg_database ON pg_database.oid = pg_stat_statements.dbid
 WHERE total_exec_time > (SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY total_exec_time)
                            FROM pg_stat_statements)
 ORDER BY seconds_total DESC
 LIMIT 100
"""


def exporter_stat_statements(cluster: PgCluster, port: int,
                             db: str = postgres.EXPORTER_DATABASE) -> list[dict]:
    """The rows the exporter would turn into series, read the way it reads them: as its
    pg_monitor role over TCP."""
    out = cluster.psql_tcp(MONITOR_USER, cluster.monitor_password, port,
                           EXPORTER_STAT_STATEMENTS_SQL, db).stdout.strip()
    keys = ("user", "datname", "queryid", "calls_total", "seconds_total", "rows_total",
            "block_read_seconds_total", "block_write_seconds_total")
    return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines() if line]


def mean_statement_seconds(rows: list[dict], datname: str) -> float:
    """sum(seconds_total) / sum(calls_total) of one database: the alert's division."""
    mine = [r for r in rows if r["datname"] == datname]
    return sum(float(r["seconds_total"]) for r in mine) / sum(int(r["calls_total"]) for r in mine)

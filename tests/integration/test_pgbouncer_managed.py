"""PgBouncer 1.21+ (conftest.pgbouncer_binary) with the rendered pgbouncer.ini of a stack whose
PostgreSQL is managed (postgres.external, issue 14 item 6), in front of a separately started
PostgreSQL that,
like RDS or Cloud SQL, serves TLS and knows nothing of phasestack: its own role and password,
an scram pg_hba. The userlist is written by the pod's init-container script from the "team's
Secret" file; the server connection must be encrypted (sslmode require), and a server without
TLS must be refused rather than used in plain text."""

from __future__ import annotations

import secrets
import subprocess

from phasestack.model import Stack
from phasestack.synth import pgbouncer
from tests.integration.conftest import (
    as_postgres,
    free_port,
    pgbouncer_binary,
    port_open,
    require,
    wait_for,
)
from tests.integration.pg_helpers import PATH, PG_BIN, run_as_postgres, write

ROLE, DB = "shop", "shop"


def start_managed(servers, workdir, tls: bool) -> tuple[int, str]:
    """A plain PostgreSQL 15 with its own role and password; (port, password)."""
    for tool in ("initdb", "postgres", "psql"):
        require(str(PG_BIN / tool))
    data, port, password = workdir / "managed", free_port(), secrets.token_urlsafe(24)
    run_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--no-sync",
                     "-E", "UTF8", "--locale=C", "--auth-local=trust",
                     "--auth-host=scram-sha-256"], {})
    settings = [f"port = {port}", "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{workdir}'"]
    if tls:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=db.example.internal", "-keyout", str(data / "server.key"),
                        "-out", str(data / "server.crt")], check=True, capture_output=True)
        subprocess.run(["chown", "postgres:postgres", str(data / "server.key"),
                        str(data / "server.crt")], check=True)
        (data / "server.key").chmod(0o600)
        settings.append("ssl = on")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n".join(settings) + "\n")
    servers.start(as_postgres([str(PG_BIN / "postgres"), "-D", str(data)]),
                  workdir / "managed.log")
    wait_for(lambda: port_open(port), timeout=30, what="managed postgres")
    wait_for(lambda: run_as_postgres([str(PG_BIN / "psql"), "-h", str(workdir), "-p", str(port),
                                      "-U", "postgres", "-c", "SELECT 1"], {},
                                     check=False).returncode == 0, timeout=30,
             what="managed postgres accepting connections")
    for sql in (f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'",
                f"CREATE DATABASE {DB} OWNER {ROLE}"):
        run_as_postgres([str(PG_BIN / "psql"), "-h", str(workdir), "-p", str(port), "-U",
                         "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql], {})
    return port, password


def start_pgbouncer(stack: Stack, servers, workdir, password: str) -> int:
    """The rendered ini; the userlist from the init container's script, as in the pod."""
    binary = pgbouncer_binary()
    server, auth = workdir / "server", workdir / "auth"
    for d in (server, auth):
        d.mkdir()
    write(server / "password", password, 0o600)
    script = pgbouncer.USERLIST_SCRIPT.replace(pgbouncer.SERVER_PASSWORD_DIR, str(server)) \
        .replace(pgbouncer.AUTH_DIR, str(auth))
    subprocess.run(["/bin/sh", "-c", script], env={"PGB_USER": ROLE, "PATH": "/usr/bin:/bin"},
                   check=True)
    subprocess.run(["chown", "-R", "postgres", str(auth)], check=True)
    port = free_port()
    ini = write(workdir / "pgbouncer.ini", pgbouncer.pgbouncer_ini(
        stack, listen_addr="127.0.0.1", listen_port=port, auth_file=str(auth / "userlist.txt"),
        logfile=str(workdir / "pgbouncer.log"), pidfile=str(workdir / "pgbouncer.pid")))
    servers.start(as_postgres([binary, str(ini)]), workdir / "pgbouncer.out")
    wait_for(lambda: port_open(port), timeout=15, what="pgbouncer")
    return port


def managed_stack(port: int) -> Stack:
    return Stack.for_phase("phase1", namespace="t", postgres={
        "database": DB, "app_user": ROLE, "external": {
            "host": "127.0.0.1", "port": port, "password_secret": "shop-db",
            "sslmode": "require"}})


def through(port: int, password: str, sql: str, db: str = DB,
            timeout: int = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", ROLE,
         "-d", db, "-c", sql],
        env={"PATH": PATH, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": str(timeout)},
        capture_output=True, text=True, timeout=60)


def test_pgbouncer_reaches_a_managed_server_over_tls(servers, workdir):
    port, password = start_managed(servers, workdir, tls=True)
    stack = managed_stack(port)
    pgb = start_pgbouncer(stack, servers, workdir, password)
    # the app logs in to PgBouncer with the team's password; PgBouncer's server connection
    # to the managed database is TLS (pg_stat_ssl of the backend serving it)
    rw = through(pgb, password, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert rw.returncode == 0, rw.stderr
    assert rw.stdout.strip() == "t"
    ro = through(pgb, password, "SELECT current_database(), ssl FROM pg_stat_ssl "
                                "WHERE pid = pg_backend_pid()", db=pgbouncer.ro_database(stack))
    assert ro.returncode == 0, ro.stderr
    assert ro.stdout.strip() == f"{DB}|t"  # <db>_ro served by the primary without read_host
    assert through(pgb, "wrong-" + password, "SELECT 1").returncode != 0


def test_sslmode_require_refuses_a_server_without_tls(servers, workdir):
    port, password = start_managed(servers, workdir, tls=False)
    pgb = start_pgbouncer(managed_stack(port), servers, workdir, password)
    # PgBouncer never falls back to plain text: the client gets its pool-wait error (within
    # query_wait_timeout_s), not a session
    proc = through(pgb, password, "SELECT 1", timeout=40)
    assert proc.returncode != 0
    assert "query_wait_timeout" in proc.stderr, proc.stderr

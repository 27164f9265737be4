"""PostgreSQL 15 (Debian) started from the rendered phasestack settings, init script and replica
bootstrap script: roles, timeouts, streaming replication and a read-only hot standby."""

from __future__ import annotations

from phasestack.stackfile import load
from phasestack.synth import postgres
from tests.integration.conftest import wait_for
from tests.integration.pg_helpers import start_cluster


def test_primary_and_streaming_replica(servers, workdir):
    stack = load("phase2").stack
    pg = stack.postgres
    c = start_cluster(stack, servers, workdir)

    # the rendered settings are in force on both servers
    for port in (c.primary_port, c.replica_port):
        assert c.psql_super(port, "SHOW max_connections") == str(pg.max_connections) == "200"
        assert c.psql_super(port, "SHOW password_encryption") == "scram-sha-256"
        assert c.psql_super(port, "SHOW wal_level") == "replica"
    assert c.psql_super(c.primary_port, "SHOW max_wal_senders") == str(
        postgres.max_wal_senders(stack))
    assert c.psql_super(c.primary_port, "SHOW superuser_reserved_connections") == "3"

    # init-roles.sh: the app role logs in with its password and carries review 003's timeouts
    assert c.psql_app(c.primary_port, "SHOW statement_timeout").stdout.strip() == "30s"
    assert c.psql_app(c.primary_port, "SHOW lock_timeout").stdout.strip() == "5s"
    assert c.psql_super(c.primary_port,
                        "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'") == "t"
    assert c.psql_super(c.primary_port,
                        "SELECT pg_get_userbyid(datdba) FROM pg_database "
                        f"WHERE datname = '{pg.database}'") == pg.app_user
    # a wrong password is refused (SCRAM, not trust)
    c.app_password, good = "wrong-password", c.app_password
    denied = c.psql_app(c.primary_port, "SELECT 1", check=False)
    c.app_password = good
    assert denied.returncode != 0 and "password authentication failed" in denied.stderr

    # the replica cloned by replica-bootstrap.sh streams from the primary
    wait_for(lambda: c.psql_super(c.primary_port,
                                  "SELECT state FROM pg_stat_replication") == "streaming",
             timeout=20, what="replica streaming")
    assert c.psql_super(c.primary_port, "SELECT usename FROM pg_stat_replication") == "replicator"
    assert c.psql_super(c.replica_port, "SELECT pg_is_in_recovery()") == "t"
    assert c.psql_super(c.primary_port, "SELECT pg_is_in_recovery()") == "f"

    # rows written on the primary (as the app) show up on the replica
    c.psql_app(c.primary_port, "CREATE TABLE items (id int PRIMARY KEY, name text);"
                               "INSERT INTO items SELECT g, 'item ' || g "
                               "FROM generate_series(1, 100) g")
    wait_for(lambda: c.psql_app(c.replica_port, "SELECT count(*) FROM items",
                                check=False).stdout.strip() == "100",
             timeout=20, what="rows replicated")

    # the replica is read-only
    refused = c.psql_app(c.replica_port, "INSERT INTO items VALUES (101, 'x')", check=False)
    assert refused.returncode != 0
    assert "read-only transaction" in refused.stderr



def test_bootstrap_script_keeps_an_existing_cluster(workdir):
    """A replica volume that already holds a cluster is never re-cloned or touched."""
    from tests.integration.pg_helpers import run_as_postgres, write

    stack = load("phase2").stack
    data = workdir / "pgdata"
    data.mkdir()
    data.chmod(0o755)
    write(data / "PG_VERSION", "15\n")
    script = write(workdir / "bootstrap.sh", postgres.replica_bootstrap_script(stack), 0o755)
    ok = run_as_postgres(["sh", str(script)], {"PGDATA": str(data), "PGPASSWORD": "unused",
                                                "PRIMARY_HOST": "127.0.0.1",
                                                "PRIMARY_PORT": "1", "WAIT_SECONDS": "1"})
    assert "already holds a cluster" in ok.stdout
    # a non-empty directory without a cluster is refused, not wiped
    other = workdir / "other"
    other.mkdir(mode=0o777)
    write(other / "keep.txt", "precious\n")
    refused = run_as_postgres(["sh", str(script)], {"PGDATA": str(other), "PGPASSWORD": "x",
                                                     "WAIT_SECONDS": "1"}, check=False)
    assert refused.returncode == 1 and "refusing" in refused.stderr
    assert (other / "keep.txt").read_text() == "precious\n"

"""PostgreSQL 15 (Debian) started from the rendered phasestack settings, init script and replica
bootstrap script: roles, timeouts, streaming replication and a read-only hot standby."""

from __future__ import annotations

from phasestack.model import MONITOR_USER, SUPERUSER
from phasestack.stackfile import load
from phasestack.synth import postgres
from phasestack.synth.prometheus import THRESHOLDS
from tests.integration.conftest import PG_BIN, wait_for
from tests.integration.pg_helpers import (
    PATH,
    REPLICA_POD,
    crash,
    exporter_stat_statements,
    mean_statement_seconds,
    run_as_postgres,
    start_cluster,
    write,
)


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


def test_pg_stat_statements_feed_the_query_latency_alert(servers, workdir):
    """The rendered postgresql.conf preloads pg_stat_statements and init-roles.sql creates its
    view where postgres_exporter reads it; the exporter's own query then yields the mean
    statement time the PostgresQueryLatency alerts compare with review 002's 50/100 ms."""
    stack = load("phase2").stack
    db = stack.postgres.database
    c = start_cluster(stack, servers, workdir)
    extension = "SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'"
    for port in (c.primary_port, c.replica_port):  # the replica: same file, cloned catalog
        assert c.psql_super(port, "SHOW shared_preload_libraries") == "pg_stat_statements"
        assert c.psql_super(port, "SHOW pg_stat_statements.track") == "top"
        for database in (postgres.EXPORTER_DATABASE, db):
            assert c.psql_super(port, extension, db=database) == "pg_stat_statements"

    # slow statements from the app: the mean is above the critical threshold (100 ms)
    c.psql_super(c.primary_port, "SELECT pg_stat_statements_reset()")
    for _ in range(3):
        c.psql_app(c.primary_port, "SELECT pg_sleep(0.12)")
    rows = exporter_stat_statements(c, c.primary_port)
    slow = max((r for r in rows if r["datname"] == db), key=lambda r: float(r["seconds_total"]))
    assert (slow["user"], slow["calls_total"]) == (stack.postgres.app_user, "3")
    assert 0.36 <= float(slow["seconds_total"]) < 1
    assert mean_statement_seconds(rows, db) > THRESHOLDS["pg_query_critical"]

    # fast statements: well below the warning threshold (50 ms)
    c.psql_super(c.primary_port, "SELECT pg_stat_statements_reset()")
    c.psql_app(c.primary_port, "CREATE TABLE lat (id int PRIMARY KEY, v text);"
                               "INSERT INTO lat SELECT g, md5(g::text) "
                               "FROM generate_series(1, 1000) g")
    c.psql_app(c.primary_port, ";".join(f"SELECT v FROM lat WHERE id = {i}"
                                        for i in range(1, 201)))
    rows = exporter_stat_statements(c, c.primary_port)
    assert any(r["datname"] == db for r in rows)
    assert mean_statement_seconds(rows, db) < THRESHOLDS["pg_query_warning"]

    # the replica's exporter (job postgres-replica) sees the reads served there: between the
    # two thresholds (the statistics are per server: a standby resets its own)
    c.psql_super(c.replica_port, "SELECT pg_stat_statements_reset()")
    for _ in range(2):
        c.psql_app(c.replica_port, "SELECT pg_sleep(0.07)")
    rows = exporter_stat_statements(c, c.replica_port)
    mean = mean_statement_seconds(rows, db)
    assert THRESHOLDS["pg_query_warning"] < mean < THRESHOLDS["pg_query_critical"]


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


def test_replica_streams_through_its_slot_and_is_unready_when_it_stops(servers, workdir):
    """Issue 11: without a slot a replica down too long could never resume, and pg_isready
    kept it in postgres-ro. Now it streams through a slot named after its pod, the primary
    bounds the WAL a slot keeps, and the readiness script fails once it stops streaming."""
    from phasestack.synth import postgres_config

    stack = load("phase2").stack
    c = start_cluster(stack, servers, workdir)
    slot = postgres_config.slot_name(REPLICA_POD)
    wait_for(lambda: c.psql_super(c.primary_port, "SELECT active FROM pg_replication_slots "
                                  f"WHERE slot_name = '{slot}'") == "t",
             timeout=30, what="the replica's slot active on the primary")
    kept = c.psql_super(c.primary_port, "SHOW max_slot_wal_keep_size")
    assert kept == f"{postgres_config.max_slot_wal_keep_size_mb(stack) // 1024}GB" == "5GB"

    ready = write(workdir / "replica-ready.sh", postgres_config.replica_ready_script(
        stack, socket_dir=str(c.socket_dir), port=c.replica_port), 0o755)

    def replica_ready() -> bool:
        return run_as_postgres(["sh", str(ready)], {"PATH": PATH},
                               check=False).returncode == 0

    wait_for(replica_ready, timeout=30, what="replica ready while streaming")
    # the primary crashes: the replica still answers pg_isready, but must leave postgres-ro
    crash(workdir / "primary")
    wait_for(lambda: not replica_ready(), timeout=30, what="replica unready without a primary")
    assert run_as_postgres([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p",
                            str(c.replica_port)], {}, check=False).returncode == 0


def test_replica_that_lost_its_slot_is_recloned_and_streams_again(servers, workdir):
    """Issue 11: a replica down while more WAL was written than the primary keeps for its
    slot can never resume; its bootstrap kept the stale data directory. Now the bootstrap
    sees the invalidated slot, clones afresh, and the replica streams (and has the rows)."""
    from phasestack.model import Stack
    from phasestack.phases import preset
    from phasestack.stackfile import deep_merge
    from phasestack.synth import postgres_config
    from tests.integration.pg_helpers import _start

    # a 1 GiB volume: the primary keeps 256 MiB of WAL for an absent replica's slot
    stack = Stack.model_validate(deep_merge(preset("phase2"), {"postgres": {"storage_gb": 1}}))
    assert postgres_config.max_slot_wal_keep_size_mb(stack) == 256
    c = start_cluster(stack, servers, workdir)
    slot = postgres_config.slot_name(REPLICA_POD)
    replica = workdir / "replica"
    crash(replica)
    wait_for(lambda: not (replica / "postmaster.pid").exists() or run_as_postgres(
        [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(c.replica_port)], {},
        check=False).returncode != 0, timeout=30, what="replica down")

    # ~400 MB of WAL while it is away, then a checkpoint (where slots are invalidated)
    c.psql_super(c.primary_port, "CREATE TABLE w AS SELECT g, repeat('x', 200) AS pad "
                 "FROM generate_series(1, 1500000) g; CHECKPOINT;")
    assert c.psql_super(c.primary_port, "SELECT wal_status FROM pg_replication_slots "
                        f"WHERE slot_name = '{slot}'") == "lost"

    bootstrap = write(workdir / "replica-bootstrap.sh",
                      postgres_config.replica_bootstrap_script(stack), 0o755)
    out = run_as_postgres(["sh", str(bootstrap)], {
        "PGDATA": str(replica), "PRIMARY_HOST": "127.0.0.1",
        "PRIMARY_PORT": str(c.primary_port), "PGPASSWORD": c.replication_password,
        "WAIT_SECONDS": "20", "POD_NAME": REPLICA_POD, "PATH": PATH}, timeout=300)
    assert f"slot {slot} is missing or invalidated" in out.stdout
    (replica / "postmaster.pid").unlink(missing_ok=True)
    _start(servers, c, replica, c.replica_port, "replica-again")
    ready = write(workdir / "replica-ready.sh", postgres_config.replica_ready_script(
        stack, socket_dir=str(c.socket_dir), port=c.replica_port), 0o755)
    wait_for(lambda: run_as_postgres(["sh", str(ready)], {"PATH": PATH},
                                     check=False).returncode == 0,
             timeout=60, what="re-cloned replica streaming")
    assert c.psql_super(c.replica_port, "SELECT count(*) FROM w") == "1500000"
    assert c.psql_super(c.primary_port, "SELECT wal_status FROM pg_replication_slots "
                        f"WHERE slot_name = '{slot}'") in ("reserved", "extended")


def test_least_privilege_roles(servers, workdir):
    """Issue 11: postgres_exporter connected as the superuser and pg_hba let the superuser in
    over TCP. Now the exporter is a pg_monitor member that sees every statistic and writes
    nothing, and the superuser is refused over TCP even with its right password."""
    stack = load("phase2").stack
    c = start_cluster(stack, servers, workdir)
    wait_for(lambda: c.psql_super(c.primary_port,
                                  "SELECT state FROM pg_stat_replication") == "streaming",
             timeout=20, what="replica streaming")

    def as_exporter(port: int, sql: str, check: bool = True):
        return c.psql_tcp(MONITOR_USER, c.monitor_password, port, sql,
                          postgres.EXPORTER_DATABASE, check)

    for port in (c.primary_port, c.replica_port):  # the role is replicated with the catalog
        assert as_exporter(port, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                           ).stdout.strip() == "f"
        assert as_exporter(port, "SELECT pg_has_role('pg_monitor', 'member')").stdout.strip() \
            == "t"
    # pg_monitor reads what the exporter's collectors read, other sessions' details included
    assert as_exporter(c.primary_port, "SELECT state, client_addr IS NOT NULL "
                                       "FROM pg_stat_replication").stdout.strip() == "streaming|t"
    assert as_exporter(c.replica_port, "SELECT status FROM pg_stat_wal_receiver"
                       ).stdout.strip() == "streaming"
    assert as_exporter(c.primary_port, "SELECT count(*) > 0 FROM pg_stat_statements"
                       ).stdout.strip() == "t"
    # and changes nothing: read-only by default, and without the privileges when it opts out
    refused = as_exporter(c.primary_port, "CREATE TABLE x (v int)", check=False)
    assert "cannot execute CREATE TABLE in a read-only transaction" in refused.stderr
    for sql, error in [
            ("CREATE TABLE x (v int)", "permission denied for schema public"),
            ("SELECT pg_terminate_backend(pid) FROM pg_stat_replication",
             "must be a member of the role whose process is being terminated"),
            (f"ALTER ROLE {SUPERUSER} PASSWORD 'x'", "must be superuser to alter superuser roles"),
            ("SELECT pg_reload_conf()", "permission denied for function pg_reload_conf")]:
        refused = as_exporter(c.primary_port, f"BEGIN READ WRITE; {sql}; COMMIT", check=False)
        assert refused.returncode != 0 and error in refused.stderr, (sql, refused.stderr)

    # the superuser, with its right password, is refused over TCP; the socket still works
    password = "a-right-superuser-password-1"
    c.psql_super(c.primary_port, f"ALTER ROLE {SUPERUSER} PASSWORD '{password}'")
    tcp = c.psql_tcp(SUPERUSER, password, c.primary_port, "SELECT 1", "postgres", check=False)
    assert tcp.returncode != 0 and "pg_hba.conf rejects connection" in tcp.stderr, tcp.stderr
    assert c.psql_super(c.primary_port, "SELECT current_user") == SUPERUSER
    # the probes' pg_isready -U postgres -h 127.0.0.1 still reports the server up
    probe = run_as_postgres([str(PG_BIN / "pg_isready"),
                             *postgres.pg_isready(c.primary_port)[1:]], {}, check=False)
    assert probe.returncode == 0, probe.stdout


# postgres_exporter v0.15.0's replication_slot collector (collector/pg_replication_slot.go,
# pgReplicationSlotQuery, enabled by default): its `active` column becomes
# pg_replication_slot_slot_is_active, which the PostgresReplicaNotStreaming alert reads
EXPORTER_SLOT_SQL = """SELECT slot_name,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() - '0/0'
       ELSE pg_current_wal_lsn() - '0/0' END AS current_wal_lsn,
  COALESCE(confirmed_flush_lsn, '0/0') - '0/0', active
FROM pg_replication_slots"""


def test_a_replica_that_stops_receiving_shows_on_the_primary(servers, workdir):
    """Issue 11: the exporter's lag read 0 on a replica whose receiver was down. The primary's
    slot says it: read as the exporter role, the way the exporter reads it, the slot is active
    while the replica streams and inactive once it stops."""
    from phasestack.synth import postgres_config

    stack = load("phase2").stack
    c = start_cluster(stack, servers, workdir)
    slot = postgres_config.slot_name(REPLICA_POD)

    def active() -> str:
        rows = c.psql_tcp(MONITOR_USER, c.monitor_password, c.primary_port, EXPORTER_SLOT_SQL,
                          postgres.EXPORTER_DATABASE).stdout.split()
        return {r.split("|")[0]: r.split("|")[3] for r in rows}[slot]

    wait_for(lambda: active() == "t", timeout=30, what="slot active while streaming")
    crash(workdir / "replica")  # the replica (its receiver with it) goes away
    wait_for(lambda: active() == "f", timeout=30, what="slot inactive without the replica")

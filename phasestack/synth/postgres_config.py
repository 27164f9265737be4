"""PostgreSQL config file text (templates/postgres/), shared by the pods and the integration tests.

Every function is pure and returns exactly the text the pods run; paths, hosts and ports are
overridable so tests can run the same text against 127.0.0.1. No password is ever rendered:
the scripts read them from the environment (Secret PG_SECRET).
"""

from __future__ import annotations

from phasestack.model import MONITOR_USER, REPLICATION_USER, SUPERUSER, Stack
from phasestack.synth.common import PG_SECRET, PORTS, POSTGRES, dns, named, render_template

CONFIG_DIR = "/etc/postgresql"          # the ConfigMap, read-only
SOCKET_DIR = "/var/run/postgresql"      # emptyDir
# Kept whatever the slots say: small, since each replica has a slot (max_slot_wal_keep_size
# bounds what a slot keeps; 1 GiB here used to outweigh it, and fill a 1 GiB volume)
WAL_KEEP_SIZE_MB = 64
LOG_MIN_DURATION_MS = 1000              # log statements slower than this
# the query-latency alert's source (review 002, "12. Required Metrics": query latency);
# "top": statements the clients sent, not those run inside functions (no double counting)
PRELOAD_LIBRARIES = ("pg_stat_statements",)
STAT_STATEMENTS_TRACK = "top"
# pg_stat_statements' view lives in the databases it is created in: the app's, and the one
# postgres_exporter connects to (postgres.py: DATA_SOURCE_URI .../postgres)
EXPORTER_DATABASE = "postgres"


# PostgreSQL's own default for max_wal_senders and max_replication_slots
WAL_SENDERS_FLOOR = 10


def max_wal_senders(stack: Stack) -> int:
    """A fixed ceiling, also used for max_replication_slots: PostgreSQL's default of 10, raised
    only when the replicas (one sender each) plus two for pg_basebackup -X stream while cloning
    need more. Both settings take a restart of the primary, so they must not follow every
    change of the replica count (0 -> 1 -> 3 would restart the primary each time)."""
    return max(WAL_SENDERS_FLOOR, stack.postgres.read_replicas + 2)


def max_slot_wal_keep_size_mb(stack: Stack) -> int:
    """WAL the primary keeps for a replica's slot while it is away: a quarter of the volume.
    Within it a replica resumes after any outage; beyond it the slot is invalidated, so a dead
    replica cannot fill the primary's disk (it then needs a fresh clone)."""
    return stack.postgres.storage_gb * 1024 // 4


def slot_name(pod: str) -> str:
    """The replication slot of a replica pod (slot names take [a-z0-9_])."""
    return pod.replace("-", "_")


def postgresql_conf(stack: Stack, *, listen_addresses: str = "*", port: int = PORTS.postgres,
                    unix_socket_dir: str = SOCKET_DIR,
                    hba_file: str = f"{CONFIG_DIR}/pg_hba.conf",
                    config_dir: str = CONFIG_DIR) -> str:
    """The primary's and replicas' postgresql.conf; with postgres.backup (engine statefulset)
    the WAL archive through config_dir/wal-spool.sh (the backup sidecar uploads)."""
    from phasestack.synth import backup, postgres_backup  # postgres_backup imports this module

    pg = stack.postgres
    archive = ""
    if postgres_backup.enabled(stack):
        archive = ("\n# --- WAL archive: the backup sidecar uploads each segment "
                   "(postgres.backup) ---\n"
                   + backup.conf_lines(postgres_backup.archive_settings(pg.backup, config_dir)))
    text = render_template(
        "postgres/postgresql.conf.j2", listen_addresses=listen_addresses, port=port,
        unix_socket_dir=unix_socket_dir, hba_file=hba_file,
        max_connections=pg.max_connections,
        superuser_reserved_connections=pg.superuser_reserved_connections,
        shared_buffers_mb=pg.shared_buffers_mb, max_wal_senders=max_wal_senders(stack),
        wal_keep_size_mb=WAL_KEEP_SIZE_MB, log_min_duration_ms=LOG_MIN_DURATION_MS,
        max_slot_wal_keep_size_mb=max_slot_wal_keep_size_mb(stack),
        preload_libraries=list(PRELOAD_LIBRARIES), stat_statements_track=STAT_STATEMENTS_TRACK)
    return text + archive


def pg_hba(stack: Stack) -> str:
    return render_template("postgres/pg_hba.conf.j2", replication_user=REPLICATION_USER,
                           superuser=SUPERUSER)


def init_sql(stack: Stack) -> str:
    """Roles and database; passwords are psql variables :'app_password',
    :'replication_password' and :'monitor_password'."""
    pg = stack.postgres
    return render_template(
        "postgres/init-roles.sql.j2", app_user=pg.app_user, database=pg.database,
        replication_user=REPLICATION_USER, statement_timeout_s=pg.statement_timeout_s,
        lock_timeout_s=pg.lock_timeout_s, monitor_user=MONITOR_USER,
        monitoring_connections=pg.monitoring_connections,
        extension_databases=list(dict.fromkeys([EXPORTER_DATABASE, pg.database])))


def init_script(stack: Stack, *, init_sql_path: str = f"{CONFIG_DIR}/init-roles.sql") -> str:
    """Runs init_sql() with psql, passwords from APP_PASSWORD, REPLICATION_PASSWORD and
    MONITOR_PASSWORD."""
    return render_template(
        "postgres/init-roles.sh.j2", secret=named(stack, PG_SECRET), init_sql_path=init_sql_path,
        app_user=stack.postgres.app_user, replication_user=REPLICATION_USER,
        monitor_user=MONITOR_USER)


def replica_bootstrap_script(stack: Stack, *, wait_seconds: int = 300) -> str:
    """Clones the primary when PGDATA is empty. PRIMARY_HOST/PRIMARY_PORT/PGDATA/PGPASSWORD
    come from the environment; the primary's Service DNS name is the default host."""
    return render_template(
        "postgres/replica-bootstrap.sh.j2", secret=named(stack, PG_SECRET),
        primary_host=dns(stack, POSTGRES), primary_port=PORTS.postgres,
        replication_user=REPLICATION_USER, wait_seconds=wait_seconds)


def replica_ready_script(stack: Stack, *, socket_dir: str = SOCKET_DIR,
                         port: int = PORTS.postgres) -> str:
    """The replica's readiness check: streaming from the primary and at most
    replica_max_lag_mb of WAL left to replay (pg_isready alone passed for a replica that had
    stopped streaming for good, so postgres-ro served stale reads)."""
    return render_template(
        "postgres/replica-ready.sh.j2", socket_dir=socket_dir, port=port,
        max_lag_bytes=stack.postgres.replica_max_lag_mb * 2**20,
        max_lag_mb=stack.postgres.replica_max_lag_mb)


def config_files(stack: Stack) -> dict[str, str]:
    """ConfigMap data: everything a primary (and, when there are replicas, a replica) runs."""
    files = {"postgresql.conf": postgresql_conf(stack), "pg_hba.conf": pg_hba(stack),
             "init-roles.sql": init_sql(stack), "init-roles.sh": init_script(stack)}
    if stack.postgres.read_replicas:
        files["replica-bootstrap.sh"] = replica_bootstrap_script(stack)
        files["replica-ready.sh"] = replica_ready_script(stack)
    from phasestack.synth import postgres_backup

    if postgres_backup.enabled(stack):
        files |= postgres_backup.files()
    return files

"""Backups of the StatefulSet engine's primary (postgres.backup with engine: statefulset): its
postgres:15-alpine image has no Barman Cloud, so a sidecar from an image that does
(backup.image, CloudNativePG's operand image by default) runs the same commands the operator
runs (synth.backup): archive_command and restore_command hand each WAL segment to it through a
spool directory both containers mount (templates/postgres/wal-spool.sh.j2) and wait for the
upload or download (templates/postgres/backup.py.j2, which also takes the base backups). With
postgres.recover_from an init container fills an empty volume from the archive first.
tests/integration/test_postgres_statefulset_backup.py runs both files on real servers.
"""

from __future__ import annotations

import json

from phasestack.model import SUPERUSER, Stack
from phasestack.model.backup import PostgresBackup
from phasestack.model.cron import max_gap_minutes
from phasestack.synth import backup as barman
from phasestack.synth.common import (
    PORTS,
    TRANSFER,
    container,
    empty_dir,
    exec_probe,
    job_container,
    render_template,
    resources,
    secret_env,
    small_resources,
)
from phasestack.synth.postgres_config import CONFIG_DIR, SOCKET_DIR

SPOOL_DIR = "/wal-spool"
# archive_command waits this long for the upload (PostgreSQL retries a failed segment)
WAIT_S = 600
SPOOL_VOLUME = "wal-spool"
HOME = "/tmp"  # boto3's and Barman's caches, on the tmp emptyDir
HEARTBEAT = "/tmp/backup.beat"  # the loop's epoch seconds, every few seconds (its probe)
BEAT_MAX_AGE_S = 60


def enabled(stack: Stack) -> bool:
    pg = stack.postgres
    return pg.engine == "statefulset" and pg.backup is not None and not pg.external


def wal_spool_script(spool_dir: str = SPOOL_DIR) -> str:
    return render_template("postgres/wal-spool.sh.j2", spool_dir=spool_dir, wait_s=WAIT_S)


def sidecar_script() -> str:
    return render_template("postgres/backup.py.j2")


def archive_settings(b: PostgresBackup, config_dir: str = CONFIG_DIR) -> dict[str, str]:
    return {"archive_mode": "on", "archive_command": f"sh {config_dir}/wal-spool.sh push %p %f",
            "archive_timeout": f"{b.archive_timeout_s}s"}


def restore_command(config_dir: str = CONFIG_DIR) -> str:
    return f"sh {config_dir}/wal-spool.sh fetch %f %p"


def backup_every_s(b: PostgresBackup) -> int:
    """The sidecar's base-backup interval: the longest gap of the six-field schedule (seconds
    dropped), which the model checks has one."""
    return max_gap_minutes(b.schedule.split(" ", 1)[1]) * 60


def _named(b: PostgresBackup, server_name: str) -> PostgresBackup:
    return b.model_copy(update={"server_name": server_name})


def sidecar_env(stack: Stack, spool_dir: str = SPOOL_DIR, socket_dir: str = SOCKET_DIR,
                port: int = PORTS.postgres, heartbeat: str = HEARTBEAT) -> dict[str, str]:
    """backup.py's inputs: its Barman Cloud commands whole (the store's credentials come
    from the Secret as AWS_* variables). FETCH reads the archive being recovered from."""
    b, rf = stack.postgres.backup, stack.postgres.recover_from
    cmds = {"ARCHIVE": barman.wal_archive_argv(b),
            "FETCH": barman.wal_restore_argv(_named(b, rf.server_name) if rf else b),
            "BACKUP": barman.base_backup_argv(b, socket_dir, port, SUPERUSER),
            "RETENTION": barman.retention_argv(b), "LIST": barman.list_argv(b),
            "PRIMARY": ["psql", "-X", "-h", socket_dir, "-p", str(port), "-U", SUPERUSER,
                        "-d", "postgres", "-Atc", "SELECT pg_is_in_recovery()"]}
    return {**{k: json.dumps(v) for k, v in cmds.items()}, "SPOOL": spool_dir,
            "BACKUP_EVERY_S": str(backup_every_s(b)), "HEARTBEAT": heartbeat, "HOME": HOME}


def restore_env(stack: Stack, pgdata: str, config_dir: str = CONFIG_DIR) -> dict[str, str]:
    b, rf = stack.postgres.backup, stack.postgres.recover_from
    source = _named(b, rf.server_name)
    return {"RESTORE_LIST": json.dumps(barman.list_argv(source)),
            "RESTORE": json.dumps(barman.restore_argv(source)),
            "RESTORE_COMMAND": restore_command(config_dir), "PGDATA": pgdata,
            "TARGET_TIME": rf.target_time or "", "HOME": HOME}


def _credentials(b: PostgresBackup) -> list[dict]:
    s = b.store
    return [secret_env("AWS_ACCESS_KEY_ID", s.credentials_secret, s.access_key_id_key),
            secret_env("AWS_SECRET_ACCESS_KEY", s.credentials_secret, s.secret_access_key_key)]


def _plain(env: dict[str, str]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in env.items()]


def spool_mount() -> dict:
    return {"name": SPOOL_VOLUME, "mountPath": SPOOL_DIR}


def sidecar(stack: Stack, data_mount: str) -> dict:
    """Beside postgres in the primary's pod: the data volume read-only (base backups read
    PGDATA), the socket (the superuser by peer), the spool."""
    b = stack.postgres.backup
    alive = exec_probe(["sh", "-c", f"test $(( $(date +%s) - $(cat {HEARTBEAT}) )) "
                                    f"-lt {BEAT_MAX_AGE_S}"], period=30)
    # ready once the loop set its spool up, and then for good: a stuck loop is restarted
    # (liveness), never a reason to take the database out of its Service
    started = exec_probe(["test", "-d", f"{SPOOL_DIR}/push"], period=10, delay=0)
    return container(
        "backup", b.image, resources(TRANSFER), {}, alive, started,
        command=["python3", f"{CONFIG_DIR}/backup.py", "run"],
        env=[*_plain(sidecar_env(stack)), *_credentials(b)],
        volumeMounts=[{"name": "data", "mountPath": data_mount, "readOnly": True},
                      {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                      {"name": "run", "mountPath": SOCKET_DIR}, spool_mount(),
                      {"name": "tmp", "mountPath": "/tmp"}])


def restore_init(stack: Stack, data_mount: str, pgdata: str) -> dict:
    """The primary's init container with postgres.recover_from: an empty volume is filled
    from the archive (a volume that holds a database is left alone)."""
    b = stack.postgres.backup
    return job_container(
        "restore", b.image, small_resources(), command=["python3", f"{CONFIG_DIR}/backup.py",
                                                        "restore"],
        env=[*_plain(restore_env(stack, pgdata)), *_credentials(b)],
        volumeMounts=[{"name": "data", "mountPath": data_mount},
                      {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                      {"name": "tmp", "mountPath": "/tmp"}])


def volumes() -> list[dict]:
    return [empty_dir(SPOOL_VOLUME)]


def files() -> dict[str, str]:
    """ConfigMap entries the primary's containers run."""
    return {"wal-spool.sh": wal_spool_script(), "backup.py": sidecar_script()}

"""Barman Cloud commands and PostgreSQL settings for model.backup.PostgresBackup: WAL archiving,
base backups, retention, and restoring to a point in time into a new data directory. Pure
text: the credentials come from the environment of whoever runs them (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, which boto3 reads), so nothing here holds a secret.
"""

from __future__ import annotations

import shlex

from phasestack.model import SUPERUSER
from phasestack.model.backup import PostgresBackup

# gzip for WAL and base backups alike: an archive read back with another compression is a
# second object beside the first (Barman Cloud names them X and X.gz)
COMPRESSION = "--gzip"


def location(b: PostgresBackup) -> list[str]:
    """The arguments every Barman Cloud command ends with: endpoint, destination, server."""
    endpoint = ["--endpoint-url", b.store.endpoint_url] if b.store.endpoint_url else []
    return [*endpoint, b.store.destination.rstrip("/"), b.server_name]


def wal_archive_argv(b: PostgresBackup) -> list[str]:
    """Uploads one WAL segment: its path follows."""
    return ["barman-cloud-wal-archive", COMPRESSION, *location(b)]


def wal_restore_argv(b: PostgresBackup) -> list[str]:
    """Fetches one WAL segment: its name and where it goes follow (exit 1: not archived)."""
    return ["barman-cloud-wal-restore", *location(b)]


def wal_archive_command(b: PostgresBackup) -> str:
    """archive_command: PostgreSQL substitutes %p (the segment's path)."""
    return shlex.join(wal_archive_argv(b)) + " %p"


def wal_restore_command(b: PostgresBackup) -> str:
    """restore_command of a recovering server: %f (segment name) and %p (where it goes)."""
    return shlex.join(wal_restore_argv(b)) + " %f %p"


def archive_settings(b: PostgresBackup) -> dict[str, str]:
    """postgresql.conf lines of an archiving primary (wal_level replica is already set)."""
    return {"archive_mode": "on", "archive_command": wal_archive_command(b),
            "archive_timeout": f"{b.archive_timeout_s}s"}


def base_backup_argv(b: PostgresBackup, host: str, port: int,
                     user: str = SUPERUSER) -> list[str]:
    """A base backup; it reads PGDATA's files, so it runs where the data directory is."""
    return ["barman-cloud-backup", COMPRESSION, "--immediate-checkpoint", "-h", host,
            "-p", str(port), "-U", user, *location(b)]


def retention_argv(b: PostgresBackup) -> list[str]:
    """Deletes the base backups and WAL older than the recovery window needs."""
    return ["barman-cloud-backup-delete", "--retention-policy",
            f"RECOVERY WINDOW OF {b.retention_days} DAYS", *location(b)]


def restore_argv(b: PostgresBackup, *backup_id_and_dir: str) -> list[str]:
    """Fetches base backup `backup_id` (barman-cloud-backup-list) into an empty `data_dir`
    (both left off: the command they complete)."""
    return ["barman-cloud-restore", *location(b), *backup_id_and_dir]


def list_argv(b: PostgresBackup) -> list[str]:
    """The store's base backups of b.server_name, as JSON."""
    return ["barman-cloud-backup-list", "--format", "json", *location(b)]


def recovery_settings(b: PostgresBackup, target_time: str | None) -> dict[str, str]:
    """postgresql.conf lines of the restored server (with recovery.signal in its data
    directory): replay the archive to `target_time` (None: to its end), then promote. It does
    not archive into the source's prefix (a new timeline there would mix two clusters)."""
    target = {"recovery_target_time": target_time} if target_time else {}
    return {"archive_mode": "off", "restore_command": wal_restore_command(b), **target,
            "recovery_target_action": "promote"}


def conf_lines(settings: dict[str, str]) -> str:
    """postgresql.conf text of `settings` (values quoted as the file format wants)."""
    return "".join(f"{k} = '{v.replace(chr(39), chr(39) * 2)}'\n" for k, v in settings.items())

"""Barman Cloud commands and settings of a PostgreSQL backup (synth.backup): exact text, and
the model's refusals. tests/integration/test_postgres_pitr.py runs them on real servers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from phasestack.model.backup import ObjectStore, PostgresBackup
from phasestack.synth import backup

STORE = ObjectStore(destination="s3://acme-backups/prod/", endpoint_url="https://s3.example:9000",
                    credentials_secret="s3-backup")


def test_defaults_archive_every_five_minutes_and_keep_a_week():
    b = PostgresBackup(store=STORE)
    assert (b.server_name, b.archive_timeout_s, b.retention_days) == ("postgres", 300, 7)
    assert (STORE.access_key_id_key, STORE.secret_access_key_key) == (
        "ACCESS_KEY_ID", "ACCESS_SECRET_KEY")


def test_commands():
    b = PostgresBackup(store=STORE, server_name="pg-main", retention_days=14)
    common = "--endpoint-url https://s3.example:9000 s3://acme-backups/prod pg-main"
    assert backup.archive_settings(b) == {
        "archive_mode": "on",
        "archive_command": f"barman-cloud-wal-archive --gzip {common} %p",
        "archive_timeout": "300s"}
    assert backup.base_backup_argv(b, "/var/run/postgresql", 5432) == [
        "barman-cloud-backup", "--gzip", "--immediate-checkpoint", "-h", "/var/run/postgresql",
        "-p", "5432", "-U", "postgres", *common.split()]
    assert backup.retention_argv(b) == [
        "barman-cloud-backup-delete", "--retention-policy", "RECOVERY WINDOW OF 14 DAYS",
        *common.split()]
    assert backup.restore_argv(b, "20261203T101500", "/restore") == [
        "barman-cloud-restore", *common.split(), "20261203T101500", "/restore"]
    assert backup.recovery_settings(b, "2026-12-03 10:30:00+00") == {
        "archive_mode": "off",
        "restore_command": f"barman-cloud-wal-restore {common} %f %p",
        "recovery_target_time": "2026-12-03 10:30:00+00",
        "recovery_target_action": "promote"}
    assert "recovery_target_time" not in backup.recovery_settings(b, None)


def test_aws_needs_no_endpoint_and_lines_are_quoted():
    b = PostgresBackup(store=ObjectStore(destination="s3://acme-backups",
                                         credentials_secret="s3-backup"))
    assert backup.wal_archive_command(b) == (
        "barman-cloud-wal-archive --gzip s3://acme-backups postgres %p")
    assert backup.conf_lines({"archive_timeout": "300s", "x": "it's"}) == (
        "archive_timeout = '300s'\nx = 'it''s'\n")


@pytest.mark.parametrize(("kw", "field"), [
    ({"destination": "acme-backups"}, "destination"),         # no s3:// scheme
    ({"destination": "s3://Acme"}, "destination"),             # bucket names are lower case
    ({"endpoint_url": "s3.example:9000"}, "endpoint_url"),      # no scheme
    ({"credentials_secret": "S3 Backup"}, "credentials_secret"),
])
def test_bad_store_is_refused(kw, field):
    args = {"destination": "s3://acme-backups", "credentials_secret": "s3-backup", **kw}
    with pytest.raises(ValidationError) as e:
        ObjectStore(**args)
    assert e.value.errors()[0]["loc"] == (field,)


def test_archive_timeout_bounds():
    with pytest.raises(ValidationError):
        PostgresBackup(store=STORE, archive_timeout_s=0)
    assert PostgresBackup(store=STORE, archive_timeout_s=60).archive_timeout_s == 60

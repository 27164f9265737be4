"""Continuous backup of the in-cluster PostgreSQL to S3-compatible object storage (issue 16):
WAL archived as it is written and base backups, with Barman Cloud, the tools CloudNativePG uses.

A library model for now: synth.backup renders its commands and settings, which
tests/integration/test_postgres_pitr.py proves on a real PostgreSQL and S3 server; the stack
file does not take it yet (the PostgreSQL pods' image has no Barman Cloud).
"""

from __future__ import annotations

from pydantic import Field

from phasestack.model.base import DATA_KEY, OBJECT_NAME, Spec

BUCKET_URL = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._-]+)*/?$"
ENDPOINT_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"


class ObjectStore(Spec):
    destination: str = Field(
        pattern=BUCKET_URL,
        description="s3://bucket/prefix the WAL and base backups go to (Barman Cloud's "
                    "layout: <prefix>/<server_name>/wals, .../base).")
    endpoint_url: str | None = Field(
        None, pattern=ENDPOINT_URL,
        description="An S3-compatible endpoint (MinIO, Ceph, R2, versitygw); unset: AWS S3.")
    credentials_secret: str = Field(
        pattern=OBJECT_NAME,
        description="Existing Secret with the access key (never rendered: the server reads it "
                    "from its environment).")
    access_key_id_key: str = Field("ACCESS_KEY_ID", pattern=DATA_KEY,
                                   description="Key of the access key ID in the Secret.")
    secret_access_key_key: str = Field("ACCESS_SECRET_KEY", pattern=DATA_KEY,
                                       description="Key of the secret access key.")


class PostgresBackup(Spec):
    store: ObjectStore = Field(description="Where the backups go.")
    server_name: str = Field("postgres", pattern=OBJECT_NAME,
                             description="Barman's name for this cluster inside the prefix.")
    # review 001 (001_9fbd6927d93be06f.txt), "Disaster Recovery": RPO < 15 minutes
    archive_timeout_s: int = Field(
        300, ge=1, le=86_400,
        description="Switch and archive the WAL segment after this long when there was "
                    "writing (archive_timeout): bounds what a lost volume loses (RPO), plus "
                    "about a second of upload.")
    # review 001, "Disaster Recovery": "Automated daily backups"; kept a week
    retention_days: int = Field(
        7, ge=1, le=3650,
        description="Recovery window: base backups and WAL needed to restore to any time in "
                    "the last N days are kept.")

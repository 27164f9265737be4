"""Continuous backup of the in-cluster PostgreSQL to S3-compatible object storage (issue 16):
WAL archived as it is written and base backups, with Barman Cloud, the tools CloudNativePG uses.

`postgres.backup` of a stack with `postgres.engine: cloudnativepg`: the operator runs Barman Cloud
from the Cluster's barmanObjectStore (synth.cnpg). synth.backup renders the same commands and
settings for a server of one's own, which tests/integration/test_postgres_pitr.py proves on a
real PostgreSQL and S3 server. (The StatefulSet engine's postgres:15-alpine has no Barman Cloud,
so it takes no backup section.)
"""

from __future__ import annotations

from pydantic import Field

from phasestack.model.base import DATA_KEY, OBJECT_NAME, Spec
from phasestack.model.egress import Egress

# CloudNativePG's six-field cron (seconds first): "0 0 3 * * *" is 03:00:00 every day
CRON6 = r"^(\S+ ){5}\S+$"
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
    egress: Egress = Field(
        default_factory=lambda: Egress(internet=True),
        description="Where the PostgreSQL pods may connect to reach the store (the "
                    "namespace denies all other egress): default the public internet on 443, "
                    "as AWS S3; a private store (MinIO, Ceph): internet: false and its "
                    "network under allow.")


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
    # review 001, "Disaster Recovery": "Automated daily backups"
    schedule: str = Field(
        "0 0 3 * * *", pattern=CRON6, max_length=100,
        description="When base backups run (CloudNativePG's ScheduledBackup: six cron fields, "
                    "seconds first, in the operator's time zone, UTC); one also runs when "
                    "the Cluster is created.")

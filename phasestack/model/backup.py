"""Backups to S3-compatible object storage (issue 16): the in-cluster PostgreSQL's WAL archived
as it is written and its base backups, with Barman Cloud, the tools CloudNativePG uses; and
Redis's scheduled RDB snapshots (RedisBackup, synth.redis_snapshot).

`postgres.backup`: with `postgres.engine: cloudnativepg` the operator runs Barman Cloud from the
Cluster's barmanObjectStore (synth.cnpg); with the StatefulSet engine a sidecar runs the same
commands (synth.postgres_backup), since postgres:15-alpine has no Barman Cloud. synth.backup
renders them, which tests/integration/test_postgres_pitr.py proves on a real PostgreSQL and S3
server.
"""


from pydantic import Field, field_validator

from phasestack.model import cron
from phasestack.model.base import DATA_KEY, IMAGE, OBJECT_NAME, Spec
from phasestack.model.cnpg import OPERAND_IMAGE
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
        description="Where the pods that write backups (PostgreSQL's, Redis's snapshot "
                    "Job) may connect to reach the store (the namespace denies all other "
                    "egress): default the public internet on 443, as AWS S3; a private "
                    "store (MinIO, Ceph): internet: false and its network under allow.")


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
                    "the Cluster is created. Engine statefulset: the sidecar takes one when "
                    "the newest is as old as the schedule's longest gap (a day for the "
                    "default), and at its first start.")
    image: str = Field(
        OPERAND_IMAGE, pattern=IMAGE,
        description="Engine statefulset: the backup sidecar's image, with Barman Cloud and "
                    "python3 (postgres:15-alpine has neither); cloudnativepg: unused (the "
                    "operand image, cloudnativepg.image, runs it).")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        try:
            cron.parse(v.split(" ", 1)[1])  # the five fields after the seconds
        except ValueError as e:
            raise ValueError(f"schedule {v!r}: {str(e).split(': ', 1)[1]}") from None
        return v


# review 001 (001_9fbd6927d93be06f.txt), "Backup Strategy": `redis-cli --rdb`, then
# `aws s3 sync` to s3://eco-bottle-backup: what the snapshot CronJob's two containers do
class RedisBackup(Spec):
    store: ObjectStore = Field(description="Where the snapshots go (may be PostgreSQL's).")
    server_name: str = Field("redis", pattern=OBJECT_NAME,
                             description="This Redis's folder inside the prefix: "
                                         "<prefix>/<server_name>/<UTC time>/<node>.rdb.")
    # review 001 (001_9fbd6927d93be06f.txt), "Disaster Recovery": RPO < 15 minutes
    schedule: str = Field(
        "*/10 * * * *", max_length=100,
        description="When the CronJob snapshots every master (five cron fields, UTC): the "
                    "longest gap between runs bounds what a lost volume loses (RPO).")
    retention_days: int = Field(
        2, ge=1, le=3650,
        description="Snapshots older than this are deleted by each run (the newest complete "
                    "one is always kept).")
    # the AWS CLI's own image (its s3 commands speak to any S3-compatible endpoint)
    image: str = Field("amazon/aws-cli:2.32.2", pattern=IMAGE,
                       description="Image of the upload container (its `aws` command).")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        cron.parse(v)
        return v

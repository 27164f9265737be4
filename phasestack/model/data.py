"""The stateful tier: PostgreSQL with read replicas (its own StatefulSets or CloudNativePG),
PgBouncer; and Redis (phasestack.model.redis)."""


from typing import Literal

from pydantic import Field, model_validator

from phasestack.model.backup import PostgresBackup
from phasestack.model.base import IMAGE, MANY, SQL_NAME, Resources, Spec
from phasestack.model.cnpg import CloudNativePG, Recovery
from phasestack.model.cron import max_gap_minutes
from phasestack.model.external import ExternalPostgres
from phasestack.model.redis import Redis  # noqa: F401 - re-exported

# Roles the PostgreSQL init script creates itself; the app cannot take their names.
SUPERUSER, REPLICATION_USER = "postgres", "replicator"
MONITOR_USER = "exporter"  # postgres_exporter: a member of pg_monitor, not a superuser
RESERVED_ROLES = frozenset({SUPERUSER, REPLICATION_USER, MONITOR_USER})


class Postgres(Spec):
    external: ExternalPostgres | None = Field(
        None, description="A managed PostgreSQL to use instead of running one (no "
                          "StatefulSet, exporter or generated password; the image, storage and "
                          "resources fields are then unused; max_connections is the managed "
                          "instance's, for the planner).")
    # issue 16: CloudNativePG from phase2 on, where reviews 002 and 004 add replicas
    engine: Literal["statefulset", "cloudnativepg"] = Field(
        "statefulset",
        description="statefulset: phasestack's own primary and replica StatefulSets (no "
                    "failover: a lost primary stops writes until its pod runs again). "
                    "cloudnativepg: a CloudNativePG Cluster, which promotes a standby on its "
                    "own (postgres.cloudnativepg) and takes postgres.backup.")
    cloudnativepg: CloudNativePG = Field(default_factory=CloudNativePG,
                                         description="The Cluster (engine: cloudnativepg).")
    backup: PostgresBackup | None = Field(
        None, description="WAL archiving and scheduled base backups to S3-compatible storage, "
                          "for point-in-time recovery (cloudnativepg: the operator; "
                          "statefulset: a sidecar beside the primary).")
    recover_from: Recovery | None = Field(
        None, description="Engine statefulset: an empty primary volume is first filled from "
                          "this archive up to target_time (a new stack restored from another's "
                          "backups, or a lost volume); a volume holding a database is left "
                          "alone. Engine cloudnativepg: cloudnativepg.recover_from.")
    image: str = Field("postgres:15-alpine", pattern=IMAGE,
                       description="PostgreSQL image (engine: statefulset).")
    exporter_image: str = Field("quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
                                pattern=IMAGE, description="postgres_exporter sidecar image.")
    max_connections: int = Field(200, ge=10, le=10_000, description="max_connections.")
    superuser_reserved_connections: int = Field(3, ge=0, le=100,
                                                description="Kept for superusers.")
    monitoring_connections: int = Field(2, ge=0, le=100,
                                        description="Connections the exporter holds.")
    read_replicas: int = Field(0, ge=0, le=10, description="Streaming read replicas.")
    shared_buffers_mb: int = Field(256, ge=16, le=2**20, description="shared_buffers, MiB.")
    storage_gb: int = Field(20, ge=1, le=65_536, description="Volume size, GiB.")
    replica_max_lag_mb: int = Field(
        64, ge=1, le=1_048_576,
        description="WAL a read replica may have left to replay (behind the primary's end of "
                    "WAL) and still serve reads; beyond it, or when not streaming, its "
                    "readiness fails and postgres-ro stops routing to it.")
    # review 003 (003_dcc3c24c5985e7cb.txt), 5. Could a Bad Query Lock Full Table?
    statement_timeout_s: int = Field(30, ge=1, le=86_400,
                                     description="statement_timeout of the app role.")
    lock_timeout_s: int = Field(5, ge=1, le=86_400, description="lock_timeout of the app role.")
    database: str = Field("app", pattern=SQL_NAME, description="Database.")
    app_user: str = Field("app", pattern=SQL_NAME,
                          description="Application role (not postgres or replicator).")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="500m", cpu_limit="2",
                                          memory_request="1Gi", memory_limit="2Gi"),
        description="PostgreSQL pod resources.",
    )

    @model_validator(mode="after")
    def _reserve(self) -> "Postgres":
        if self.superuser_reserved_connections >= self.max_connections:
            raise ValueError(
                f"superuser_reserved_connections ({self.superuser_reserved_connections}) must be "
                f"< max_connections ({self.max_connections})"
            )
        if self.external and self.read_replicas:
            raise ValueError(f"read_replicas {self.read_replicas}: a managed PostgreSQL's "
                             "replicas are the provider's; give their reader endpoint as "
                             "external.read_host, and read_replicas: 0")
        # (with postgres.external the engine is unused: a managed server is an endpoint)
        cnpg = self.engine == "cloudnativepg" and not self.external
        if self.backup and self.external:
            raise ValueError("backup: a managed PostgreSQL's backups are the provider's")
        if self.backup and not cnpg and max_gap_minutes(self.backup.schedule.split(" ", 1)[1]) \
                is None:
            raise ValueError(
                f"backup.schedule {self.backup.schedule!r}: the statefulset engine's sidecar "
                "takes a base backup every longest gap of the schedule; give one whose days of "
                "the month and months are * (e.g. 0 0 3 * * *)")
        if self.recover_from and cnpg:
            raise ValueError("recover_from: engine cloudnativepg restores through "
                             "cloudnativepg.recover_from")
        for key, rf, operator in (
                ("cloudnativepg.recover_from", self.cloudnativepg.recover_from, True),
                ("recover_from", self.recover_from, False)):
            if rf is None:
                continue
            if not self.backup or operator and not cnpg:
                engine = "engine: cloudnativepg and " if operator else ""
                raise ValueError(f"{key}: needs {engine}a backup section (its store holds the "
                                 "archive)")
            if rf.server_name == self.backup.server_name:
                raise ValueError(
                    f"{key}.server_name {rf.server_name!r} is backup.server_name too: the "
                    "restored cluster must archive under a new name (its own timeline), e.g. "
                    f"backup.server_name: {rf.server_name}-2")
        if self.app_user in RESERVED_ROLES and not self.external:
            raise ValueError(f"app_user {self.app_user!r} is a role phasestack creates itself; "
                             "choose another name")
        return self


class PgBouncer(Spec):
    enabled: bool = Field(False, description="Put PgBouncer between the API and PostgreSQL.")
    # CloudNativePG's image (Debian trixie-slim, pgdg's pgbouncer; issue 15: bitnami's
    # versioned images left the public bitnami/ repositories in 2025)
    image: str = Field("ghcr.io/cloudnative-pg/pgbouncer:1.25.2", pattern=IMAGE,
                       description="PgBouncer image (1.21+ for max_prepared_statements; it "
                                   "needs /bin/sh and sed when the pods write their userlist).")
    binary: str = Field("/usr/bin/pgbouncer", pattern=r"^/[A-Za-z0-9._/-]{1,200}$",
                        description="Path of pgbouncer in the image (CloudNativePG's: "
                                    "/usr/bin/pgbouncer; bitnami's: "
                                    "/opt/bitnami/pgbouncer/bin/pgbouncer).")
    run_as_user: int = Field(998, ge=1, le=2**31 - 1,
                             description="UID pgbouncer runs as: the image's own user "
                                         "(CloudNativePG's pgbouncer is 998).")
    # PgBouncer 1.21+: without it asyncpg, pgx and Prisma break under transaction pooling
    max_prepared_statements: int = Field(
        200, ge=0, le=100_000,
        description="Protocol-level prepared statements kept per server connection, so "
                    "drivers that prepare (asyncpg, pgx, Prisma, psycopg 3) work through "
                    "transaction pooling; 0 turns the tracking off (PgBouncer's default: 200).")
    exporter_image: str = Field("prometheuscommunity/pgbouncer-exporter:v0.9.0", pattern=IMAGE,
                                description="pgbouncer_exporter sidecar image.")
    replicas: int = Field(2, ge=1, le=100, description="PgBouncer pods.")
    # review 002, Appendix "Phase 2: PgBouncer" compose block: transaction, 200 / 25 / 5
    pool_mode: Literal["transaction", "session", "statement"] = Field(
        "transaction", description="Pooling mode."
    )
    max_client_conn: int = Field(200, ge=1, le=MANY, description="Client connections per pod.")
    default_pool_size: int = Field(25, ge=1, le=10_000,
                                   description="Server connections per pool per pod.")
    min_pool_size: int = Field(5, ge=0, le=10_000,
                               description="Server connections kept open per pool.")
    reserve_pool_size: int = Field(5, ge=0, le=10_000,
                                   description="Extra server connections under load.")
    # fail fast (issue 11): PgBouncer's defaults (120 s, 15 s) outlast nginx's read timeout,
    # so a dead primary hung writes for two minutes behind a 504
    query_wait_timeout_s: int = Field(
        10, ge=1, le=3600,
        description="Longest a client waits for a server connection before PgBouncer answers "
                    "with an error (a dead primary, an exhausted pool); below nginx's read "
                    "timeout (postgres.statement_timeout_s + 5).")
    server_connect_timeout_s: int = Field(
        3, ge=1, le=600, description="Longest PgBouncer waits for PostgreSQL to accept a login.")
    server_login_retry_s: int = Field(
        2, ge=1, le=600,
        description="Pause after a failed server login before the next attempt; clients "
                    "waiting meanwhile get the error at once.")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="100m", memory_request="64Mi",
                                          memory_limit="128Mi"),
        description="PgBouncer pod resources.",
    )

    @model_validator(mode="after")
    def _pools(self) -> "PgBouncer":
        if self.min_pool_size > self.default_pool_size:
            raise ValueError(
                f"min_pool_size ({self.min_pool_size}) must be <= default_pool_size "
                f"({self.default_pool_size})"
            )
        return self

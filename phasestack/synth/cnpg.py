"""PostgreSQL as a CloudNativePG Cluster (postgres.engine: cloudnativepg; issue 16).

The operator runs 1 + read_replicas instances, promotes the most advanced standby when the
primary is lost, and keeps the Services <cluster>-rw (the primary: PgBouncer and the API's
URLs) and <cluster>-ro (the standbys). Its exporter (port 9187) runs our queries (QUERIES) and
Prometheus strips its cnpg_ prefix, so the alerts read the series postgres_exporter gives the
statefulset engine. Pure: plain dicts, never pulumi.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from phasestack.model import Stack
from phasestack.model.backup import PostgresBackup
from phasestack.model.cnpg import OPERATOR_NAMESPACE
from phasestack.synth.cnpg_queries import METRIC_PREFIX, QUERIES  # noqa: F401 - re-exported
from phasestack.synth.common import (
    ANY,
    CNPG_APP_SECRET,
    NAMESPACE_PEER,
    PG_SECRET,
    PORTS,
    POSTGRES,
    Flow,
    config_map,
    dns,
    instance,
    labels,
    meta,
    named,
    resources,
    secret_key,
)
from phasestack.synth.kube_state_metrics import API_SERVER_PORTS  # the Cluster, watched
from phasestack.synth.postgres_config import (
    LOG_MIN_DURATION_MS,
    STAT_STATEMENTS_TRACK,
    max_slot_wal_keep_size_mb,
)

API_VERSION = "postgresql.cnpg.io/v1"
COMPONENT = "postgres"
STATUS_PORT = 8000               # the instance manager's status endpoint the operator polls
MONITORING = "postgres-monitoring"
QUERIES_KEY = "queries"
ROLE_LABEL = "cnpg.io/instanceRole"  # primary | replica, moved by the operator on failover
ORIGIN = "origin"  # the externalClusters entry a recovery reads from
STATEFULSET = "statefulset"  # the one import_from_statefulset copies
# pulumi-kubernetes waits for the condition (kubectl and GitOps tools ignore the annotation)
WAIT_READY = {"pulumi.com/waitFor": "condition=Ready"}
# Barman Cloud compresses WAL and base backups alike (as synth.backup does)
COMPRESSION = "gzip"


def enabled(stack: Stack) -> bool:
    return stack.postgres.engine == "cloudnativepg" and stack.runs(POSTGRES)


def _parameters(stack: Stack) -> dict[str, str]:
    """postgresql.conf settings the operator lets a Cluster set (it owns listen_addresses,
    port, hba, archive_*, hot_standby, logging's destination)."""
    pg = stack.postgres
    out = {"max_connections": str(pg.max_connections),
           "superuser_reserved_connections": str(pg.superuser_reserved_connections),
           "shared_buffers": f"{pg.shared_buffers_mb}MB",
           # a pg_stat_statements.* setting makes the operator preload it and create it
           "pg_stat_statements.track": STAT_STATEMENTS_TRACK,
           "max_slot_wal_keep_size": f"{max_slot_wal_keep_size_mb(stack)}MB",
           "log_min_duration_statement": str(LOG_MIN_DURATION_MS), "log_lock_waits": "on"}
    if pg.backup:
        out["archive_timeout"] = f"{pg.backup.archive_timeout_s}s"
    return out


def _bootstrap(stack: Stack) -> dict:
    """An empty database with the app role; with import_from_statefulset, the old primary's
    database copied into it; or (recover_from) the archive restored up to the target time,
    the app role's password reset to the stack's Secret."""
    pg, rf = stack.postgres, stack.postgres.cloudnativepg.recover_from
    owner = {"database": pg.database, "owner": pg.app_user,
             "secret": {"name": named(stack, CNPG_APP_SECRET)}}
    if rf:
        target = {"recoveryTarget": {"targetTime": rf.target_time}} if rf.target_time else {}
        return {"recovery": {"source": ORIGIN, **target, **owner}}
    if pg.cloudnativepg.imports:
        # the app's database as pg_dump gives it to its owner (CloudNativePG's microservice
        # import: one database, its objects owned by the new owner)
        owner["import"] = {"type": "microservice", "databases": [pg.database],
                           "source": {"externalCluster": STATEFULSET}}
    # review 003 (003_dcc3c24c5985e7cb.txt), section 5: statement_timeout, lock_timeout
    return {"initdb": {**owner, "postInitApplicationSQL": [
        f"ALTER ROLE {pg.app_user} SET statement_timeout = '{pg.statement_timeout_s}s'",
        f"ALTER ROLE {pg.app_user} SET lock_timeout = '{pg.lock_timeout_s}s'"]}}


def object_store(b: PostgresBackup, server_name: str | None = None) -> dict:
    """Barman Cloud's store: where this cluster archives, or (server_name) the archive a
    recovery reads."""
    s = b.store
    store = {"destinationPath": s.destination.rstrip("/"),
             "serverName": server_name or b.server_name,
             **({"endpointURL": s.endpoint_url} if s.endpoint_url else {}),
             "s3Credentials": {
                 "accessKeyId": {"name": s.credentials_secret, "key": s.access_key_id_key},
                 "secretAccessKey": {"name": s.credentials_secret,
                                     "key": s.secret_access_key_key}},
             "wal": {"compression": COMPRESSION}, "data": {"compression": COMPRESSION}}
    return store


def _synchronous(stack: Stack) -> dict:
    """Quorum commit (ANY 1 of the standbys): a failover promotes one that has every
    acknowledged commit. Without standbys there is nothing to wait for."""
    pg = stack.postgres
    mode = pg.cloudnativepg.synchronous
    if not pg.read_replicas or mode == "off":
        return {}
    return {"synchronous": {"method": "any", "number": 1, "dataDurability": mode}}


def cluster(stack: Stack) -> dict:
    pg, c = stack.postgres, stack.postgres.cloudnativepg
    pods = labels(named(stack, POSTGRES), COMPONENT, instance(stack))
    spec = {
        "instances": 1 + pg.read_replicas,
        "imageName": c.image,
        # rolling updates: replicas first, then a switchover instead of restarting the primary
        "primaryUpdateStrategy": "unsupervised", "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "bootstrap": _bootstrap(stack),
        "postgresql": {"parameters": _parameters(stack), **_synchronous(stack)},
        "storage": {"size": f"{pg.storage_gb}Gi"},
        "resources": resources(pg.resources),
        # a replica serves reads (the -ro Service) only while streaming and caught up
        "probes": {"readiness": {"type": "streaming",
                                 "maximumLag": f"{pg.replica_max_lag_mb}Mi"}},
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname",
                     "podAntiAffinityType": c.anti_affinity},
        # the pods carry the stack's labels: NetworkPolicies and scrape Services select them
        "inheritedMetadata": {"labels": pods},
        "monitoring": {"customQueriesConfigMap": [{"name": named(stack, MONITORING),
                                                   "key": QUERIES_KEY}]},
    }
    if pg.backup:
        spec["backup"] = {"barmanObjectStore": object_store(pg.backup),
                          "retentionPolicy": f"{pg.backup.retention_days}d"}
    if c.recover_from:
        spec["externalClusters"] = [{"name": ORIGIN, "barmanObjectStore": object_store(
            pg.backup, c.recover_from.server_name)}]
    elif c.imports:
        spec["externalClusters"] = [{"name": STATEFULSET, "connectionParameters": {
            "host": dns(stack, POSTGRES), "port": str(PORTS.postgres), "user": pg.app_user,
            "dbname": pg.database, "sslmode": "disable"},
            "password": {"name": named(stack, PG_SECRET), "key": secret_key("appPassword")}}]
    # `pulumi up` moves PgBouncer and the API only once the Cluster is ready (its import done)
    return {"apiVersion": API_VERSION, "kind": "Cluster",
            "metadata": meta(stack, POSTGRES, COMPONENT, annotations=WAIT_READY), "spec": spec}


def scheduled_backup(stack: Stack) -> dict:
    b = stack.postgres.backup
    return {"apiVersion": API_VERSION, "kind": "ScheduledBackup",
            "metadata": meta(stack, "postgres-daily", COMPONENT, pod=POSTGRES),
            "spec": {"schedule": b.schedule, "immediate": True, "method": "barmanObjectStore",
                     "backupOwnerReference": "self",
                     "cluster": {"name": named(stack, POSTGRES)}}}


def manifests(stack: Stack, primary: list[dict] | None = None) -> list[dict]:
    """The Cluster and its parts; `primary`: the statefulset engine's primary, rendered
    beside it while import_from_statefulset copies it (synth.postgres passes it)."""
    queries = config_map(stack, MONITORING, COMPONENT, {QUERIES_KEY: QUERIES}, pod=POSTGRES)
    queries["metadata"]["labels"]["cnpg.io/reload"] = ""  # the operator reloads on change
    docs = [*(primary or []), queries, cluster(stack)]
    if stack.postgres.backup:
        docs.append(scheduled_backup(stack))
    return docs


def store_port(b: PostgresBackup) -> int:
    url = urlsplit(b.store.endpoint_url or "https://s3.amazonaws.com")
    return url.port or (80 if url.scheme == "http" else 443)


def flows(stack: Stack) -> list[Flow]:
    """The operator polls every instance and clones through it; instances stream from each
    other (any one may be the primary) and watch their Cluster on the API server."""
    operator = f"{NAMESPACE_PEER}{OPERATOR_NAMESPACE}"
    out = [Flow(operator, POSTGRES, port) for port in (STATUS_PORT, PORTS.postgres)]
    out += [Flow(POSTGRES, POSTGRES, port) for port in (STATUS_PORT, PORTS.postgres)]
    return out + [Flow(POSTGRES, ANY, port) for port in API_SERVER_PORTS]

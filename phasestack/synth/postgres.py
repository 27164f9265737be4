"""PostgreSQL: a primary StatefulSet, streaming read replicas, Services and the exporter sidecar
(engine: statefulset; engine: cloudnativepg is synth.cnpg's Cluster).

`postgres` (Service + StatefulSet, 1 pod) takes writes; `postgres-replica` pods are hot standbys
cloned with pg_basebackup -R by an init container and served by the read-only Service
`postgres-ro`. Config text lives in postgres_config (re-exported here).
"""

from __future__ import annotations

import json

from phasestack.model import MONITOR_USER, SUPERUSER, Stack
from phasestack.synth import cnpg, postgres_backup
from phasestack.synth.common import (
    PART_OF,
    PG_SECRET,
    PORTS,
    POSTGRES,
    POSTGRES_HEADLESS,
    POSTGRES_REPLICA,
    POSTGRES_RO,
    Flow,
    away_from,
    config_hash,
    config_map,
    container,
    container_security,
    empty_dir,
    exec_probe,
    http_probe,
    instance,
    meta,
    named,
    pdb,
    pod_spec,
    pod_template,
    resources,
    secret_file_env,
    secret_key,
    secret_mount,
    secret_volume,
    selector,
    service,
    small_resources,
)
from phasestack.synth.postgres_config import (
    CONFIG_DIR,
    EXPORTER_DATABASE,
    REPLICATION_USER,
    SOCKET_DIR,
    config_files,
    init_script,
    init_sql,
    max_wal_senders,
    pg_hba,
    postgresql_conf,
    replica_bootstrap_script,
)

__all__ = ["manifests", "flows", "postgresql_conf", "pg_hba", "init_sql", "init_script",
           "replica_bootstrap_script", "max_wal_senders", "REPLICATION_USER", "EXPORTER_ARGS",
           "EXPORTER_DATABASE"]

COMPONENT = "postgres"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # the StatefulSet controller's
UID = 70                                  # user postgres in the postgres:*-alpine images
DATA_MOUNT = "/var/lib/postgresql/data"   # the PersistentVolumeClaim
PGDATA = f"{DATA_MOUNT}/pgdata"           # a subdirectory: the volume root may hold lost+found
INITDB_DIR = "/docker-entrypoint-initdb.d"
# Secret volumes: every password is a file, none in a container's environment
MONITOR_KEY, REPLICATION_KEY = secret_key("monitorPassword"), secret_key("replicationPassword")
PRIMARY_SECRETS = {"POSTGRES_PASSWORD": secret_key("postgresPassword"),
                   "APP_PASSWORD": secret_key("appPassword"),
                   "REPLICATION_PASSWORD": REPLICATION_KEY, "MONITOR_PASSWORD": MONITOR_KEY}
CREDENTIALS_VOLUME = "credentials"        # the primary's postgres container: PRIMARY_SECRETS
REPLICATION_VOLUME = "replication"        # the replica's bootstrap: replication-password
MONITOR_VOLUME = "monitor"                # postgres_exporter: monitor-password


def _env_value(name: str, value: str) -> dict:
    return {"name": name, "value": value}


def _mount(name: str, path: str, read_only: bool = False) -> dict:
    return {"name": name, "mountPath": path, **({"readOnly": True} if read_only else {})}


def pg_isready(port: int = PORTS.postgres) -> list[str]:
    """The probes' command. pg_isready never authenticates: a `reject` for the superuser over
    TCP (pg_hba.conf) still answers "accepting connections"."""
    return ["pg_isready", "-q", "-U", SUPERUSER, "-h", "127.0.0.1", "-p", str(port)]


def _postgres(stack: Stack, replica: bool) -> dict:
    env = [_env_value("PGDATA", PGDATA)]
    mounts = [_mount("data", DATA_MOUNT), _mount("config", CONFIG_DIR, True),
              _mount("run", SOCKET_DIR), _mount("tmp", "/tmp"), _mount("shm", "/dev/shm")]
    if not replica:  # the image's entrypoint initialises an empty volume and runs init-roles.sh
        env += [secret_file_env(var, CREDENTIALS_VOLUME, key)
                for var, key in PRIMARY_SECRETS.items()]
        mounts += [_mount("initdb", INITDB_DIR, True), secret_mount(CREDENTIALS_VOLUME)]
        if postgres_backup.enabled(stack):  # archive_command hands segments to the sidecar
            mounts.append(postgres_backup.spool_mount())
    # a replica serves reads only while streaming and caught up (replica-ready.sh)
    ready = ["sh", f"{CONFIG_DIR}/replica-ready.sh"] if replica else pg_isready()
    return container(
        "postgres", stack.postgres.image, resources(stack.postgres.resources),
        {"postgres": PORTS.postgres}, liveness=exec_probe(pg_isready(), period=10, delay=0),
        readiness=exec_probe(ready, period=5, delay=0),
        # initdb, init scripts or WAL replay may take minutes before the first TCP accept
        startupProbe={**exec_probe(pg_isready(), period=5, delay=5), "failureThreshold": 120},
        args=["postgres", "-c", f"config_file={CONFIG_DIR}/postgresql.conf"],
        env=env, volumeMounts=mounts)


# pg_stat_statements_{calls,seconds}_total for the query-latency alert (review 002
# (002_f99052a1f9a0162e.txt), "12. Required Metrics"); the collector is off by default
EXPORTER_ARGS = ["--collector.stat_statements"]


def _exporter(stack: Stack) -> dict:
    return container(
        "postgres-exporter", stack.postgres.exporter_image, small_resources(),
        {"metrics": PORTS.postgres_exporter}, liveness=http_probe("/", "metrics"),
        readiness=http_probe("/", "metrics"), args=list(EXPORTER_ARGS),
        env=[_env_value("DATA_SOURCE_URI",
                        f"127.0.0.1:{PORTS.postgres}/{EXPORTER_DATABASE}?sslmode=disable"),
             _env_value("DATA_SOURCE_USER", MONITOR_USER),
             secret_file_env("DATA_SOURCE_PASS", MONITOR_VOLUME, MONITOR_KEY)],
        volumeMounts=[secret_mount(MONITOR_VOLUME)])


def _bootstrap(stack: Stack) -> dict:
    """Init container: clone the primary once (replica-bootstrap.sh); init containers take no
    probes."""
    return {"name": "bootstrap", "image": stack.postgres.image, "imagePullPolicy": "IfNotPresent",
            "command": ["sh", f"{CONFIG_DIR}/replica-bootstrap.sh"],
            "env": [_env_value("PGDATA", PGDATA),
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {
                        "fieldPath": "metadata.name"}}},
                    secret_file_env("PGPASSWORD", REPLICATION_VOLUME, REPLICATION_KEY)],
            "resources": resources(stack.postgres.resources),
            "securityContext": container_security(),
            "volumeMounts": [_mount("data", DATA_MOUNT), _mount("config", CONFIG_DIR, True),
                             _mount("tmp", "/tmp"), secret_mount(REPLICATION_VOLUME)]}


def _volumes(stack: Stack, replica: bool) -> list[dict]:
    config, secret = named(stack, POSTGRES), named(stack, PG_SECRET)
    vols = [{"name": "config", "configMap": {"name": config, "defaultMode": 0o444}},
            empty_dir("run"), empty_dir("tmp"), empty_dir("shm", "Memory"),
            secret_volume(MONITOR_VOLUME, secret, [MONITOR_KEY])]
    if replica:
        vols.append(secret_volume(REPLICATION_VOLUME, secret, [REPLICATION_KEY]))
    else:
        vols.append(secret_volume(CREDENTIALS_VOLUME, secret, list(PRIMARY_SECRETS.values())))
        vols.append({"name": "initdb", "configMap": {
            "name": config, "defaultMode": 0o555,
            "items": [{"key": "init-roles.sh", "path": "10-init-roles.sh"}]}})
    return vols


def _statefulset(stack: Stack, name: str, replicas: int, replica: bool,
                 rolls_on: dict[str, str]) -> dict:
    # a replica avoids the primary's node and zone where the cluster allows (issue 15): one
    # node's loss should not take both
    containers, volumes = [_postgres(stack, replica), _exporter(stack)], _volumes(stack, replica)
    extra: dict = {"initContainers": [_bootstrap(stack)],
                   "affinity": away_from(stack, POSTGRES)} if replica else {}
    if not replica and postgres_backup.enabled(stack):
        containers.append(postgres_backup.sidecar(stack, DATA_MOUNT))
        volumes += postgres_backup.volumes()
        if stack.postgres.recover_from:
            extra["initContainers"] = [postgres_backup.restore_init(stack, DATA_MOUNT, PGDATA)]
    spec = pod_spec(stack, name, UID, containers, volumes=volumes,
                    terminationGracePeriodSeconds=60, **extra)
    spec["securityContext"]["fsGroupChangePolicy"] = "OnRootMismatch"
    annotations = {**rolls_on, "prometheus.io/scrape": "true",
                   "prometheus.io/port": str(PORTS.postgres_exporter)}
    claim = {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{stack.postgres.storage_gb}Gi"}}}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta(stack, name, COMPONENT),
            "spec": {"replicas": replicas, "serviceName": named(stack, POSTGRES_HEADLESS),
                     "podManagementPolicy": "Parallel" if replica else "OrderedReady",
                     "revisionHistoryLimit": 5,
                     "selector": {"matchLabels": selector(stack, name)},
                     "template": pod_template(stack, name, COMPONENT, spec, annotations),
                     "volumeClaimTemplates": [claim]}}


def manifests(stack: Stack) -> list[dict]:
    pg = stack.postgres
    if cnpg.enabled(stack):
        if not pg.cloudnativepg.imports:
            return cnpg.manifests(stack)
        # the primary the Cluster copies stays, as phase1 had it (no replicas: a copy each);
        # its Service picks its own pod, not the Cluster's, which carry the same name label
        # (and archives nothing: its WAL must not mix with the Cluster's in one archive)
        old = pg.model_copy(update={"engine": "statefulset", "read_replicas": 0,
                                    "backup": None, "recover_from": None})
        docs = manifests(stack.model_copy(update={"postgres": old}))
        for d in docs:
            if (d["kind"], d["metadata"]["name"]) == ("Service", named(stack, POSTGRES)):
                d["spec"]["selector"][POD_NAME_LABEL] = f"{named(stack, POSTGRES)}-0"
        return cnpg.manifests(stack, docs)
    n = pg.read_replicas
    files = config_files(stack)
    rolls_on = config_hash(json.dumps(files, sort_keys=True))  # no password in these files
    ports = {"postgres": PORTS.postgres}
    headless = service(stack, POSTGRES_HEADLESS, COMPONENT,
                       {**ports, "metrics": PORTS.postgres_exporter}, headless=True,
                       selector={"app.kubernetes.io/component": COMPONENT,
                                 "app.kubernetes.io/part-of": PART_OF,
                                 **({"app.kubernetes.io/instance": instance(stack)}
                                    if stack.prefix else {})})
    docs = [config_map(stack, POSTGRES, COMPONENT, files),
            service(stack, POSTGRES, COMPONENT, ports), headless,
            _statefulset(stack, POSTGRES, 1, False, rolls_on)]
    if n:
        docs += [service(stack, POSTGRES_RO, COMPONENT, ports, pod=POSTGRES_REPLICA),
                 _statefulset(stack, POSTGRES_REPLICA, n, True, rolls_on),
                 *pdb(stack, POSTGRES_REPLICA, COMPONENT, n)]
    return docs


def flows(stack: Stack) -> list[Flow]:
    """Replicas stream WAL from the primary (api/pgbouncer/prometheus flows: their modules)."""
    if cnpg.enabled(stack):
        return cnpg.flows(stack)
    if not stack.postgres.read_replicas:
        return []
    return [Flow(POSTGRES_REPLICA, POSTGRES, PORTS.postgres)]

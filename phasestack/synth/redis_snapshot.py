"""Redis snapshots to S3-compatible storage (redis.backup, issue 16 item 3): a CronJob whose
init container (the Redis image, redis-cli) dumps the RDB of the standalone server or of every
Cluster master (`redis-cli --cluster backup`) into an emptyDir, and whose container (the AWS
CLI) uploads them under <destination>/<server_name>/<UTC time>/ with a `done` marker and
deletes the snapshots past the retention. One script (templates/redis/snapshot.sh.j2) does
both halves, here and in tests/integration/test_redis_snapshot.py.

Below synth.redis: it imports nothing from it (the Redis pods' uid is handed in).
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.model.backup import RedisBackup
from phasestack.synth.common import (
    PORTS,
    REDIS,
    REDIS_SNAPSHOT,
    TRANSFER,
    Flow,
    config_map,
    cron_job,
    empty_dir,
    job_container,
    named,
    pod_spec,
    pod_template,
    render_template,
    resources,
    secret_env,
    secret_ref,
    small_resources,
)
from phasestack.synth.redis_cluster import cluster_mode, pod_hostname

SCRIPT_DIR, SNAP_DIR = "/scripts", "/snapshot"
# a snapshot that takes longer is stuck: the next run starts fresh
DEADLINE_S = 3600
BACKOFF_LIMIT = 2
# aws needs a region to sign with; S3 redirects a bucket elsewhere, and other stores ignore it
REGION = "us-east-1"


def script() -> str:
    return render_template("redis/snapshot.sh.j2")


def destination(b: RedisBackup) -> str:
    """Where this Redis's snapshots go: s3://bucket/prefix/<server_name>."""
    return f"{b.store.destination.rstrip('/')}/{b.server_name}"


def dump_env(stack: Stack) -> dict[str, str]:
    """The dump half's plain inputs: the standalone Service, or one master to find the rest."""
    host = (pod_hostname(stack, f"{REDIS}-0") if cluster_mode(stack)
            else f"{named(stack, REDIS)}.{stack.namespace}.svc.cluster.local")
    return {"REDIS_HOST": host, "REDIS_PORT": str(PORTS.redis), "REDIS_MODE": stack.redis.mode}


def upload_env(b: RedisBackup) -> dict[str, str]:
    return {"DEST": destination(b), "S3_ENDPOINT": b.store.endpoint_url or "",
            "RETENTION_DAYS": str(b.retention_days), "AWS_DEFAULT_REGION": REGION,
            "HOME": "/tmp"}  # the CLI's cache directory, on the tmp emptyDir


def _plain(env: dict[str, str]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in env.items()]


def _mounts() -> list[dict]:
    return [{"name": "scripts", "mountPath": SCRIPT_DIR, "readOnly": True},
            {"name": "snapshot", "mountPath": SNAP_DIR}, {"name": "tmp", "mountPath": "/tmp"}]


def snapshot_job(stack: Stack, uid: int, component: str) -> dict:
    """The CronJob (stack.redis.backup set)."""
    b = stack.redis.backup
    run = ["sh", f"{SCRIPT_DIR}/snapshot.sh"]
    dump = job_container(
        "dump", stack.redis.image, small_resources(), command=[*run, "dump", SNAP_DIR],
        env=[*_plain(dump_env(stack)),
             secret_env("REDISCLI_AUTH", *secret_ref(stack, "redisAdminPassword"))],
        volumeMounts=_mounts())
    s = b.store
    upload = job_container(
        "upload", b.image, resources(TRANSFER), command=[*run, "upload", SNAP_DIR],
        env=[*_plain(upload_env(b)),
             secret_env("AWS_ACCESS_KEY_ID", s.credentials_secret, s.access_key_id_key),
             secret_env("AWS_SECRET_ACCESS_KEY", s.credentials_secret, s.secret_access_key_key)],
        volumeMounts=_mounts())
    # every master's RDB at once: at most maxmemory each (an RDB is smaller than the dataset)
    size = f"{stack.redis.masters * stack.redis.maxmemory_mb}Mi"
    volumes = [{"name": "scripts", "configMap": {"name": named(stack, REDIS_SNAPSHOT)}},
               {"name": "snapshot", "emptyDir": {"sizeLimit": size}}, empty_dir("tmp")]
    spec = pod_spec(stack, REDIS_SNAPSHOT, uid, [upload], spread=False, restartPolicy="Never",
                    initContainers=[dump], volumes=volumes)
    return cron_job(stack, REDIS_SNAPSHOT, component, b.schedule,
                    pod_template(stack, REDIS_SNAPSHOT, component, spec), BACKOFF_LIMIT,
                    DEADLINE_S)


def manifests(stack: Stack, uid: int, component: str) -> list[dict]:
    if stack.redis.backup is None:
        return []
    return [config_map(stack, REDIS_SNAPSHOT, component, {"snapshot.sh": script()}),
            snapshot_job(stack, uid, component)]


def flows(stack: Stack) -> list[Flow]:
    """The dump reads every master (cluster: each at its pod address, from the seed's table)."""
    return [Flow(REDIS_SNAPSHOT, REDIS, PORTS.redis)] if stack.redis.backup else []


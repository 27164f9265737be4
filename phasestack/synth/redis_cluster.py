"""Redis Cluster bootstrap: an idempotent Job that runs `redis-cli --cluster create` once.

The script (templates/redis/bootstrap.sh.j2) is parametrised by environment only, so the same
text runs in the Job and against 127.0.0.1 nodes in the integration tests. Below synth.redis:
it imports nothing from it (the Redis pods' uid and component label are handed in).
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import objects
from phasestack.synth.common import (
    PORTS,
    REDIS,
    REDIS_BOOTSTRAP,
    REDIS_HEADLESS,
    config_map,
    empty_dir,
    job_container,
    named,
    pod_dns,
    pod_spec,
    pod_template,
    render_template,
    secret_env,
    secret_ref,
    small_resources,
)

SCRIPT_DIR = "/scripts"
DEFAULT_TIMEOUT_S = 300
BACKOFF_LIMIT = 6


def cluster_mode(stack: Stack) -> bool:
    return stack.redis.mode == "cluster"


def pod_hostname(stack: Stack, pod: str) -> str:
    """Stable DNS name of one StatefulSet pod through the headless Service."""
    return pod_dns(stack, pod, REDIS_HEADLESS)


def bootstrap_script(poll_seconds: float = 2, default_timeout: int = DEFAULT_TIMEOUT_S) -> str:
    """The bootstrap shell script; inputs come from REDIS_NODES, REDIS_REPLICAS, REDISCLI_AUTH."""
    return render_template("redis/bootstrap.sh.j2", poll_seconds=poll_seconds,
                           default_timeout=default_timeout)


def node_addresses(stack: Stack) -> list[str]:
    """host:port of every pod; StatefulSet ordinals 0..masters-1 become the masters."""
    return [f"{pod_hostname(stack, f'{REDIS}-{i}')}:{PORTS.redis}"
            for i in range(stack.redis.pods)]


def bootstrap_env(stack: Stack) -> dict[str, str]:
    """The script's plain inputs (the admin password comes from the Secret as REDISCLI_AUTH)."""
    return {"REDIS_NODES": " ".join(node_addresses(stack)),
            "REDIS_REPLICAS": str(stack.redis.replicas_per_master),
            "BOOTSTRAP_TIMEOUT": str(DEFAULT_TIMEOUT_S)}


def job(stack: Stack, uid: int, component: str) -> dict:
    env = [{"name": k, "value": v} for k, v in bootstrap_env(stack).items()]
    # CLUSTER MEET / ADDSLOTS / RESET are admin commands: the default (admin) user's password
    env.append(secret_env("REDISCLI_AUTH", *secret_ref(stack, "redisAdminPassword")))
    # Runs to completion: no probes (nothing to restart or unroute); the script's own waits,
    # backoffLimit and activeDeadlineSeconds bound it.
    c = job_container("bootstrap", stack.redis.image, small_resources(),
                      command=["sh", f"{SCRIPT_DIR}/bootstrap.sh"], env=env,
                      volumeMounts=[{"name": "scripts", "mountPath": SCRIPT_DIR,
                                     "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"}])
    spec = pod_spec(stack, REDIS_BOOTSTRAP, uid, [c], spread=False, restartPolicy="Never",
                    volumes=[{"name": "scripts",
                              "configMap": {"name": named(stack, REDIS_BOOTSTRAP)}},
                             empty_dir("tmp")])
    return objects.job(stack, REDIS_BOOTSTRAP, component,
                       pod_template(stack, REDIS_BOOTSTRAP, component, spec), BACKOFF_LIMIT,
                       4 * DEFAULT_TIMEOUT_S)


def manifests(stack: Stack, uid: int, component: str) -> list[dict]:
    if not cluster_mode(stack):
        return []
    return [config_map(stack, REDIS_BOOTSTRAP, component,
                       {"bootstrap.sh": bootstrap_script()}),
            job(stack, uid, component)]

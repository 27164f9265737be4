"""Redis Cluster bootstrap: an idempotent Job that runs `redis-cli --cluster create` once,
and the self-heal sidecar of every Redis pod (`bootstrap.sh watch`), which re-meets the members
at their current addresses after they all restarted on new IPs. Both keep each replica off its
master's Kubernetes node (each pod announces `<pod>/<node>` as its human node name, NODENAME):
the Job at its end, the lowest-ID master's loop every PLACE_EVERY checks.

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
    container,
    empty_dir,
    exec_probe,
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
# a check every 10 s: after a full restart the cluster is whole again ~one interval after the
# last pod answers; in steady state a check is two CLUSTER INFO calls on localhost
HEAL_INTERVAL_S = 10
BEAT_FILE = "/tmp/heal.beat"
# liveness: the loop wrote its beat within six intervals
BEAT_MAX_AGE_S = 6 * HEAL_INTERVAL_S
# the lowest-ID master's loop re-points replicas beside their master once a minute
PLACE_EVERY = 6
# what each pod announces as cluster-announce-human-nodename: the placement reads the node
NODENAME = "$(POD_NAME)/$(NODE_NAME)"


def cluster_mode(stack: Stack) -> bool:
    return stack.redis.mode == "cluster"


def pod_hostname(stack: Stack, pod: str) -> str:
    """Stable DNS name of one StatefulSet pod through the headless Service."""
    return pod_dns(stack, pod, REDIS_HEADLESS)


def bootstrap_script(poll_seconds: float = 2, default_timeout: int = DEFAULT_TIMEOUT_S) -> str:
    """The bootstrap shell script; inputs come from REDIS_NODES, REDIS_REPLICAS, REDISCLI_AUTH."""
    return render_template("redis/bootstrap.sh.j2", poll_seconds=poll_seconds,
                           default_timeout=default_timeout, heal_interval=HEAL_INTERVAL_S,
                           beat_file=BEAT_FILE, place_every=PLACE_EVERY)


def node_addresses(stack: Stack) -> list[str]:
    """host:port of every pod; StatefulSet ordinals 0..masters-1 become the masters."""
    return [f"{pod_hostname(stack, f'{REDIS}-{i}')}:{PORTS.redis}"
            for i in range(stack.redis.pods)]


def bootstrap_env(stack: Stack) -> dict[str, str]:
    """The script's plain inputs (the admin password comes from the Secret as REDISCLI_AUTH)."""
    return {"REDIS_NODES": " ".join(node_addresses(stack)),
            "REDIS_REPLICAS": str(stack.redis.replicas_per_master),
            "BOOTSTRAP_TIMEOUT": str(DEFAULT_TIMEOUT_S)}


def admin_auth(stack: Stack) -> dict:
    # CLUSTER MEET / ADDSLOTS / RESET are admin commands: the default (admin) user's password
    return secret_env("REDISCLI_AUTH", *secret_ref(stack, "redisAdminPassword"))


SCRIPTS_VOLUME = "scripts"


def scripts_volume(stack: Stack) -> dict:
    return {"name": SCRIPTS_VOLUME, "configMap": {"name": named(stack, REDIS_BOOTSTRAP)}}


def heal_container(stack: Stack) -> dict:
    """The self-heal loop beside redis-server: meets members again when this node's cluster is
    not ok. Needs the pod's "tmp" emptyDir (its beat file) and scripts_volume(). It reads the
    members from the node's own table, so growing the cluster leaves the pod template as is."""
    beat_fresh = exec_probe(["sh", "-c", f'test $(( $(date +%s) - $(cat {BEAT_FILE}) )) '
                                         f'-lt {BEAT_MAX_AGE_S}'], period=HEAL_INTERVAL_S)
    return container(
        "heal", stack.redis.image, small_resources(), {}, beat_fresh, beat_fresh,
        command=["sh", f"{SCRIPT_DIR}/bootstrap.sh", "watch", f"127.0.0.1:{PORTS.redis}"],
        env=[admin_auth(stack)],
        volumeMounts=[{"name": SCRIPTS_VOLUME, "mountPath": SCRIPT_DIR, "readOnly": True},
                      {"name": "tmp", "mountPath": "/tmp"}])


def job(stack: Stack, uid: int, component: str) -> dict:
    env = [{"name": k, "value": v} for k, v in bootstrap_env(stack).items()]
    env.append(admin_auth(stack))
    # Runs to completion: no probes (nothing to restart or unroute); the script's own waits,
    # backoffLimit and activeDeadlineSeconds bound it.
    c = job_container("bootstrap", stack.redis.image, small_resources(),
                      command=["sh", f"{SCRIPT_DIR}/bootstrap.sh"], env=env,
                      volumeMounts=[{"name": SCRIPTS_VOLUME, "mountPath": SCRIPT_DIR,
                                     "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"}])
    spec = pod_spec(stack, REDIS_BOOTSTRAP, uid, [c], spread=False, restartPolicy="Never",
                    volumes=[scripts_volume(stack), empty_dir("tmp")])
    return objects.job(stack, REDIS_BOOTSTRAP, component,
                       pod_template(stack, REDIS_BOOTSTRAP, component, spec), BACKOFF_LIMIT,
                       4 * DEFAULT_TIMEOUT_S)


def manifests(stack: Stack, uid: int, component: str) -> list[dict]:
    if not cluster_mode(stack):
        return []
    return [config_map(stack, REDIS_BOOTSTRAP, component,
                       {"bootstrap.sh": bootstrap_script()}),
            job(stack, uid, component)]

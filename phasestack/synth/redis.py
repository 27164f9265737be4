"""Redis: standalone (mvp, phase1) or Redis Cluster (phase2, phase3) as one StatefulSet.

Two ACL users: the app's (`app`, REDIS_PASSWORD) may run every command but the @dangerous
ones (FLUSHALL, CONFIG, KEYS, DEBUG, SHUTDOWN, REPLICAOF, ...; INFO stays, clients ask for it);
the default user (REDIS_ADMIN_PASSWORD) is the admin: replication, the cluster bootstrap, the
exporter, probes and the runbook. The passwords never reach a ConfigMap: the container passes
them as arguments after the ConfigMap's redis.conf (Kubernetes expands $(VAR) from the Secret).
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.phases import R002
from phasestack.synth import redis_cluster, redis_snapshot
from phasestack.synth.common import (
    PORTS,
    REDIS,
    REDIS_BOOTSTRAP,
    REDIS_HEADLESS,
    REDIS_SECRET,
    Flow,
    config_hash,
    config_map,
    container,
    empty_dir,
    exec_probe,
    http_probe,
    meta,
    named,
    pdb,
    pod_spec,
    pod_template,
    render_template,
    resources,
    secret_env,
    secret_key,
    selector,
    service,
    small_resources,
)
from phasestack.synth.redis_cluster import cluster_mode, pod_hostname

COMPONENT = "redis"
UID = 999  # the valkey user of valkey/valkey:*-alpine (the redis user of redis:*-alpine)
# keys of REDIS_SECRET
APP_KEY, ADMIN_KEY = secret_key("redisPassword"), secret_key("redisAdminPassword")
APP_USER = "app"
# every key and channel; every command but @dangerous, except INFO (ioredis' ready check, BullMQ)
APP_RULES = ("~*", "&*", "+@all", "-@dangerous", "+info")
CONF_DIR, DATA_DIR = "/etc/redis", "/data"
# review 001 (001_9fbd6927d93be06f.txt), Redis Cluster Configuration: cluster-node-timeout 5000
CLUSTER_NODE_TIMEOUT_MS = 5000
# review 002 (002_f99052a1f9a0162e.txt), Recommendation 4: --save 900 1 --save 300 10
SAVE = "900 1 300 10"
POLICY_NOTES = {
    "noeviction": ["noeviction: writes fail when memory is full instead of silently dropping keys.",
                   f"Review 002 ({R002}), Recommendation 4, sets allkeys-lru, but its own",
                   "section 3 (Current Configuration Issues) warns it may evict active sessions."],
}


def redis_conf(stack: Stack, port: int = PORTS.redis, dir: str = DATA_DIR,  # noqa: A002
               bind: str = "0.0.0.0", announce_hostname: str | None = None,
               cluster_port: int | None = None,
               node_timeout_ms: int = CLUSTER_NODE_TIMEOUT_MS) -> str:
    """redis.conf text; the cluster section only for cluster stacks.

    announce_hostname is left out of the ConfigMap (each pod passes its own name at start);
    cluster_port defaults to port + 10000 inside Redis (PORTS.redis_bus).
    """
    r = stack.redis
    cluster = None
    if cluster_mode(stack):
        cluster = {"config_file": "nodes.conf", "node_timeout_ms": node_timeout_ms,
                   "port": cluster_port, "preferred_endpoint_type": "hostname",
                   "announce_hostname": announce_hostname}
    note = POLICY_NOTES.get(r.maxmemory_policy, [
        f"{r.maxmemory_policy}: chosen by the stack file; evicting can drop live sessions."])
    return render_template(
        "redis/redis.conf.j2", secret=named(stack, REDIS_SECRET), bind=bind, port=port, dir=dir,
        maxmemory_mb=r.maxmemory_mb, maxmemory_policy=r.maxmemory_policy, policy_note=note,
        appendonly="yes" if r.appendonly else "no", save=SAVE, cluster=cluster)


def server_args(stack: Stack, conf_path: str = f"{CONF_DIR}/redis.conf",
                password_ref: str = "$(REDIS_PASSWORD)",
                admin_ref: str = "$(REDIS_ADMIN_PASSWORD)",
                hostname: str | None = None,
                nodename: str = redis_cluster.NODENAME) -> list[str]:
    """redis-server arguments: the config file, the admin (default user) password, which
    replicas also authenticate with, the app user, and in a cluster the hostname announced to
    clients (default: the pod's DNS name, `$(POD_NAME)` expanded by Kubernetes) and the
    `<pod>/<node>` name the bootstrap's placement reads (`$(NODE_NAME)`: the pod's node).

    In the pod the refs are Kubernetes $(VAR) expansions; tests pass real values.
    """
    args = [conf_path, "--requirepass", admin_ref, "--masterauth", admin_ref,
            "--user", APP_USER, "on", f">{password_ref}", *APP_RULES]
    if cluster_mode(stack):
        args += ["--cluster-announce-hostname", hostname or pod_hostname(stack, "$(POD_NAME)"),
                 "--cluster-announce-human-nodename", nodename]
    return args


def _ports(stack: Stack) -> dict[str, int]:
    ports = {"redis": PORTS.redis}
    if cluster_mode(stack):
        ports["bus"] = PORTS.redis_bus
    return ports


def _redis_container(stack: Stack) -> dict:
    secret = named(stack, REDIS_SECRET)
    env = [secret_env("REDIS_PASSWORD", secret, APP_KEY),
           secret_env("REDIS_ADMIN_PASSWORD", secret, ADMIN_KEY),
           # redis-cli reads REDISCLI_AUTH, so probes never put the password on a command line
           secret_env("REDISCLI_AUTH", secret, ADMIN_KEY)]
    if cluster_mode(stack):
        env += [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    ping = f"redis-cli -p {PORTS.redis} ping"
    # LOADING (a large AOF being replayed) is alive but not ready: no restart loop on start-up
    liveness = exec_probe(["sh", "-c", f"{ping} | grep -Eq 'PONG|LOADING'"], delay=15)
    readiness = exec_probe(["sh", "-c", f"{ping} | grep -q PONG"], period=5)
    return container(
        "redis", stack.redis.image, resources(stack.redis.resources), _ports(stack),
        liveness, readiness, command=["redis-server"], args=server_args(stack), env=env,
        volumeMounts=[{"name": "config", "mountPath": CONF_DIR, "readOnly": True},
                      {"name": "data", "mountPath": DATA_DIR},
                      {"name": "tmp", "mountPath": "/tmp"}])


def _exporter_container(stack: Stack) -> dict:
    return container(
        "exporter", stack.redis.exporter_image, small_resources(),
        {"metrics": PORTS.redis_exporter},
        http_probe("/health", "metrics"), http_probe("/health", "metrics"),
        env=[{"name": "REDIS_ADDR", "value": f"redis://localhost:{PORTS.redis}"},
             # CONFIG GET, SLOWLOG and LATENCY are admin commands
             secret_env("REDIS_PASSWORD", named(stack, REDIS_SECRET), ADMIN_KEY)])


def statefulset(stack: Stack, conf: str) -> dict:
    r = stack.redis
    containers = [_redis_container(stack), _exporter_container(stack)]
    volumes = [{"name": "config", "configMap": {"name": named(stack, REDIS)}}, empty_dir("tmp")]
    hashed = [conf]
    if cluster_mode(stack):  # the self-heal loop, from the bootstrap's own script
        containers.append(redis_cluster.heal_container(stack))
        volumes.append(redis_cluster.scripts_volume(stack))
        hashed.append(redis_cluster.bootstrap_script())
    spec = pod_spec(stack, REDIS, UID, containers, volumes=volumes,
                    terminationGracePeriodSeconds=30, host_required=cluster_mode(stack))
    body = {
        "serviceName": named(stack, REDIS_HEADLESS), "replicas": r.pods, "revisionHistoryLimit": 5,
        # cluster nodes find each other only once all are up: start them together. Standalone
        # (one pod) too: the field is immutable, and one value for both modes lets phase1 ->
        # phase2 scale this StatefulSet in place instead of deleting and recreating it.
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate"},
        "selector": {"matchLabels": selector(stack, REDIS)},
        "template": pod_template(stack, REDIS, COMPONENT, spec, config_hash(*hashed)),
        "volumeClaimTemplates": [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": f"{r.storage_gb}Gi"}}}}],
    }
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta(stack, REDIS, COMPONENT), "spec": body}


def manifests(stack: Stack) -> list[dict]:
    conf = redis_conf(stack)
    ports = {**_ports(stack), "metrics": PORTS.redis_exporter}
    docs = [
        config_map(stack, REDIS, COMPONENT, {"redis.conf": conf}),
        # standalone: the address clients use; cluster: a seed, clients follow MOVED to pods
        service(stack, REDIS, COMPONENT, {"redis": PORTS.redis}),
        # publishNotReadyAddresses: the bootstrap Job and peers resolve pods before they are ready
        service(stack, REDIS_HEADLESS, COMPONENT, ports, pod=REDIS, headless=True,
                publishNotReadyAddresses=True),
        statefulset(stack, conf),
        *pdb(stack, REDIS, COMPONENT, stack.redis.pods),
    ]
    return (docs + redis_cluster.manifests(stack, UID, COMPONENT)
            + redis_snapshot.manifests(stack, UID, COMPONENT))


def flows(stack: Stack) -> list[Flow]:
    snapshots = redis_snapshot.flows(stack)
    if not cluster_mode(stack):
        return snapshots
    return [*snapshots, Flow(REDIS, REDIS, PORTS.redis),  # replication and redirects
            Flow(REDIS, REDIS, PORTS.redis_bus),   # cluster bus (gossip, failover)
            Flow(REDIS_BOOTSTRAP, REDIS, PORTS.redis)]


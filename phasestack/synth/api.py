"""The API Deployment (default: podinfo), its Services, HPA, PDB, and the queue workers.

Wiring (env): DATABASE_URL / DATABASE_READ_URL through PgBouncer when it is on, REDIS_URL for a
standalone Redis or REDIS_CLUSTER_NODES for a Redis Cluster; passwords only from Secrets.
"""

from __future__ import annotations

from phasestack.model import Stack, Worker
from phasestack.synth import common as c
from phasestack.synth import migration
from phasestack.synth.app import (
    PODINFO,
    TMP,
    UID,
    api_command,
    env_from,
    own_env,
    ports,
    scheduling,
    service_account,
)
from phasestack.synth.inject import (  # noqa: F401 - database_urls, redis_cluster_nodes too
    database_urls,
    env,
    redis_cluster_nodes,
    redis_flows,
)
from phasestack.synth.wiring import worker_name

COMPONENT = "api"
WORKER_COMPONENT = "worker"
# A worker with its own command proves liveness by touching this file (see worker_probe()).
HEARTBEAT_FILE = "/tmp/worker-heartbeat"
HEARTBEAT_MAX_AGE_S = 120


def _tmp_mount() -> list[dict]:
    return [{"name": "tmp", "mountPath": TMP}]


def api_container(stack: Stack, lifecycle: dict) -> dict:
    a = stack.api
    return c.container(
        "api", a.image, c.resources(a.resources), ports(a),
        liveness=c.http_probe(a.health_path, "http"),
        readiness=c.http_probe(a.ready_path, "http", period=5, delay=2),
        env=[*env(stack), {"name": "PORT", "value": str(a.port)}, *own_env(a)], **env_from(a),
        volumeMounts=_tmp_mount(), lifecycle=lifecycle, **api_command(stack))


def worker_probe(stack: Stack, worker: Worker) -> dict:
    """The demo worker (podinfo) is checked with podinfo's own podcli; a real worker must touch
    HEARTBEAT_FILE at least every HEARTBEAT_MAX_AGE_S seconds while it consumes its queue."""
    if not worker.command and stack.api.image.startswith(PODINFO + ":"):
        return c.exec_probe(["podcli", "check", "http", f"localhost:{stack.api.port}/healthz"])
    return c.exec_probe(["/bin/sh", "-c", f"test $(( $(date +%s) - $(stat -c %Y "
                                          f"{HEARTBEAT_FILE}) )) -lt {HEARTBEAT_MAX_AGE_S}"],
                        period=30, delay=30)


def worker_container(stack: Stack, worker: Worker) -> dict:
    a = stack.api
    if worker.command or worker.image:
        command = {k: v for k, v in (("command", list(worker.command)),
                                     ("args", list(worker.args))) if v}
    else:
        command = api_command(stack) | ({"args": list(worker.args)} if worker.args else {})
    probe = worker_probe(stack, worker)
    # the API's own variables, then the worker's (a worker's value wins: later in the list)
    mine = {e["name"] for e in own_env(worker)}
    return c.container(
        "worker", worker.image or a.image, c.resources(worker.resources), {},
        liveness=probe, readiness=probe,
        env=[*env(stack), {"name": "WORKER_QUEUE", "value": worker.name},
             {"name": "WORKER_HEARTBEAT_FILE", "value": HEARTBEAT_FILE},
             *(e for e in own_env(a) if e["name"] not in mine), *own_env(worker)],
        **env_from(a, worker),
        volumeMounts=_tmp_mount(), **command)


def manifests(stack: Stack) -> list[dict]:
    a = stack.api
    # nginx stops sending before the pod stops: no POST in flight is cut (nginx retries only
    # idempotent requests on another pod)
    lifecycle, grace = c.drain(stack, c.API_DRAIN_S)
    spec = c.pod_spec(stack, c.API, UID, [api_container(stack, lifecycle)], service_account=c.API,
                      volumes=[c.empty_dir("tmp")], terminationGracePeriodSeconds=grace,
                      **scheduling(stack))
    account = service_account(stack, c.API, COMPONENT)
    pods = dict(a.pod_annotations) or None
    docs = [
        account,
        c.service(stack, c.API, COMPONENT, {"http": a.port}, type="ClusterIP"),
        # nginx re-resolves this headless Service to reach every pod (least_conn per pod)
        c.service(stack, c.API_HEADLESS, COMPONENT, {"http": a.port}, pod=c.API, headless=True,
                  publishNotReadyAddresses=False),
        # with the HPA on, spec.replicas stays out: the HPA owns the count (minReplicas is the
        # floor), and every apply / `pulumi up` would otherwise reset it to the minimum at peak
        c.deployment(stack, c.API, COMPONENT, None if a.hpa.enabled else a.min_pods, spec,
                     annotations=pods),
        *c.pdb(stack, c.API, COMPONENT, a.min_pods),
    ]
    if a.hpa.enabled:
        # review 001 (001_9fbd6927d93be06f.txt), Kubernetes autoscaling: 70% CPU
        docs.append(c.hpa(stack, c.API, COMPONENT, a.hpa.min_replicas, a.hpa.max_replicas,
                          a.hpa.cpu_target))
    for w in a.workers:
        # reviews 000/001/003: a separate queue worker, off the request path
        name = worker_name(w)
        wspec = c.pod_spec(stack, name, UID, [worker_container(stack, w)], service_account=c.API,
                           volumes=[c.empty_dir("tmp")], terminationGracePeriodSeconds=60,
                           **scheduling(stack))
        docs.append(c.deployment(stack, name, WORKER_COMPONENT,
                                 None if w.hpa.enabled else w.replicas, wspec, annotations=pods))
        docs.extend(c.pdb(stack, name, WORKER_COMPONENT, w.min_pods))
        if w.hpa.enabled:
            docs.append(c.hpa(stack, name, WORKER_COMPONENT, w.hpa.min_replicas,
                              w.hpa.max_replicas, w.hpa.cpu_target))
    return [*migration.after_migration(stack, docs), *migration.manifests(stack)]


def _data_flows(stack: Stack, src: str) -> list[c.Flow]:
    if stack.pgbouncer.enabled:
        out = [c.Flow(src, c.PGBOUNCER, c.PORTS.pgbouncer)]
    elif stack.postgres.external:
        out = []  # outside the cluster: an egress rule (synth.network.external)
    else:
        out = [c.Flow(src, c.POSTGRES, c.PORTS.postgres)]
        if stack.postgres.read_replicas > 0 and stack.postgres.engine == "statefulset":
            out.append(c.Flow(src, c.POSTGRES_REPLICA, c.PORTS.postgres))
    return [*out, *redis_flows(stack, src)]


def flows(stack: Stack) -> list[c.Flow]:
    """nginx reaches the API; without nginx the API's Service is the entry (any client)."""
    entry = c.NGINX if stack.has("nginx") else c.ANY
    out = [c.Flow(entry, c.API, stack.api.port), *_data_flows(stack, c.API)]
    for w in stack.api.workers:
        out.extend(_data_flows(stack, worker_name(w)))
    return [*out, *migration.flows(stack)]

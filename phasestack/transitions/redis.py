"""Step builders of the runbook (transitions.runbook) for Redis: resizing, standalone -> Cluster;
growing and shrinking a Cluster are in transitions.redis_cluster (pure). Commands run redis-cli
inside redis-0, whose REDISCLI_AUTH comes from the Secret."""

from __future__ import annotations

from phasestack.transitions.redis_cluster import add_masters, add_replicas, shape, shrink
from phasestack.transitions.steps import (
    APPLY,
    APPLY_NAME,
    IMPORT,
    RCLI,
    SLOTS,
    Ctx,
    snapshot_server,
    snapshot_server_stop,
)


def redis(x: Ctx) -> list[dict]:
    ra, rb = x.a.redis, x.b.redis
    if ra.enabled != rb.enabled:
        return [_added(x) if rb.enabled else _removed(x)]
    if not rb.enabled or ra.external or rb.external:
        return []  # a managed one is not ours to resize (transitions.managed moves the data)
    if ra.mode == "standalone" and rb.mode == "cluster":
        return [_to_cluster(x)]
    if ra.mode == "cluster" and rb.mode == "cluster" and rb.masters > ra.masters:
        return [add_masters(x)]
    if ra.mode == "cluster" and rb.mode == "cluster" and rb.masters < ra.masters < rb.pods:
        return [{"title": f"Redis Cluster: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
                 "moves_data": True,
                 "what": ["Fewer masters on more pods is two transitions: first to "
                          f"{rb.masters} masters on at most {ra.pods} pods (this runbook's "
                          "shrink), then more replicas."], "commands": [], "risks": []}]
    if ra.mode == "cluster" and (rb.mode == "standalone" or rb.pods < ra.pods):
        return [shrink(x)]
    if ra.mode == "cluster" and rb.mode == "cluster" and rb.pods > ra.pods:
        return [add_replicas(x)]
    if (ra.maxmemory_mb, ra.resources) != (rb.maxmemory_mb, rb.resources):
        return [{"title": f"Redis: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
                 "what": ["maxmemory or pod resources change: pods restart one at a time."],
                 "commands": [APPLY_NAME.format("redis"),
                              'kubectl rollout status -n "$NS" statefulset/redis'],
                 "risks": ["A restarting standalone Redis is unavailable until it has loaded "
                           "its AOF; a Cluster fails over to the replica."]}]
    return []


def _added(x: Ctx) -> dict:
    return {"title": f"Redis: none -> {shape(x.b)}", "component": "redis",
            "what": ["Redis starts empty; the API and workers roll with REDIS_* (its Secret is "
                     "applied in the prepare step)."],
            "commands": [APPLY_NAME.format("redis"),
                         'kubectl rollout status -n "$NS" statefulset/redis',
                         APPLY.format("api")],
            "risks": []}


def _removed(x: Ctx) -> dict:
    return {"title": f"Redis: {shape(x.a)} -> none", "component": "redis", "moves_data": True,
            "what": ["The API and workers roll without REDIS_*; then Redis and its volume go "
                     "(the verify step's deletes, or `pulumi up`)."],
            "commands": [APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api'],
            "risks": ["What Redis holds is lost: sessions (users sign in again), rate-limit "
                      "counters, cached values and queued jobs; drain the queues first.",
                      "The app must start without REDIS_URL before this step."]}


def _to_cluster(x: Ctx) -> dict:
    rb = x.b.redis
    return {
        "title": f"Redis: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
        "moves_data": True,
        "what": [
            "There is no live migration from a standalone Redis to a Cluster. The StatefulSet "
            "`redis` is reused: redis-0 restarts with cluster-enabled on its old volume, and "
            "`redis-cli --cluster create` refuses a node that holds keys, so it is emptied.",
            "Choose: (a) accept a session-loss window (users sign in again, rate-limit counters "
            "restart); (b) export/import: snapshot with `redis-cli --rdb`, serve the snapshot "
            "from a temporary standalone server and copy it in with `redis-cli --cluster "
            "import` (MIGRATE), losing only writes after the snapshot; (c) dual-write from the "
            "app for one session TTL, then switch reads.",
            "Then the API switches from REDIS_URL to REDIS_CLUSTER_NODES (three seeds; "
            f"the client finds all {rb.pods} pods) with REDIS_CLUSTER_ENABLED=true."],
        "commands": [
            'kubectl exec -n "$NS" redis-0 -c redis -- redis-cli --rdb /data/before-cluster.rdb',
            'kubectl cp -n "$NS" -c redis redis-0:/data/before-cluster.rdb before-cluster.rdb',
            APPLY_NAME.format("redis"),
            'kubectl rollout status -n "$NS" statefulset/redis --timeout=15m',
            f"{RCLI} FLUSHALL   # the old keys; the snapshot keeps them",
            # started in cluster mode on its old data, redis-0 claimed its keys' slots; they
            # stay claimed after FLUSHALL and the bootstrap would refuse it (issue 12)
            f"{RCLI} CLUSTER RESET   # release those slots",
            APPLY_NAME.format("redis-cluster-bootstrap"),
            'kubectl wait -n "$NS" --for=condition=complete job/redis-cluster-bootstrap '
            "--timeout=20m",
            f"{RCLI} --cluster check 127.0.0.1:6379   # [OK] All {SLOTS} slots covered.",
            "# (b) only: serve the snapshot inside redis-0 and import it",
            *snapshot_server("before-cluster.rdb"), IMPORT, snapshot_server_stop(),
            APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api'],
        "risks": [
            "Between redis-0's restart and the API rollout the old REDIS_URL client gets "
            "CLUSTERDOWN/MOVED errors: sessions and rate limits fail for that window.",
            "The API's Redis client must be cluster-aware (MOVED/ASK redirects, no SELECT, "
            "multi-key commands only within one hash slot: use {hash tags}).",
            "The temporary server in (b) needs memory beside redis-0 under its "
            f"{rb.resources.memory_limit} limit."],
    }

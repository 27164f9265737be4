"""Step builders of phasestack.runbook for Redis: resizing, standalone -> Cluster, adding and
removing Cluster masters (pure). Commands run redis-cli inside redis-0, whose REDISCLI_AUTH comes
from the Secret."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.runbook_steps import APPLY, APPLY_NAME, IP, RCLI, SLOTS, Ctx


def _shape(stack: Stack) -> str:
    r = stack.redis
    if r.mode == "standalone":
        return f"standalone ({r.maxmemory_mb} MiB)"
    return (f"cluster {r.masters} masters x {r.replicas_per_master} replica(s) "
            f"({r.pods} pods, {r.maxmemory_mb} MiB each)")


def redis(x: Ctx) -> list[dict]:
    ra, rb = x.a.redis, x.b.redis
    if ra.mode == "standalone" and rb.mode == "cluster":
        return [_to_cluster(x)]
    if ra.mode == "cluster" and rb.mode == "cluster" and rb.masters > ra.masters:
        return [_add_masters(x)]
    if ra.mode == "cluster" and (rb.mode == "standalone" or rb.masters < ra.masters):
        return [{"title": f"Redis: {_shape(x.a)} -> {_shape(x.b)}", "component": "cache",
                 "moves_data": True,
                 "what": ["phasestack does not automate shrinking a Cluster: move every slot "
                          "off the masters that go (rebalance with weight 0), del-node them, "
                          "then scale the StatefulSet down."],
                 "commands": [IP, f"{RCLI} --cluster rebalance $(ip redis-0):6379 "
                              "--cluster-weight <node-id>=0",
                              f"{RCLI} --cluster del-node $(ip redis-0):6379 <node-id>",
                              f"{RCLI} --cluster check $(ip redis-0):6379"],
                 "risks": ["Slots move key by key; the remaining masters must hold all keys."]}]
    if (ra.maxmemory_mb, ra.resources) != (rb.maxmemory_mb, rb.resources):
        return [{"title": f"Redis: {_shape(x.a)} -> {_shape(x.b)}", "component": "cache",
                 "what": ["maxmemory or pod resources change: pods restart one at a time."],
                 "commands": [APPLY_NAME.format("redis"),
                              'kubectl rollout status -n "$NS" statefulset/redis'],
                 "risks": ["A restarting standalone Redis is unavailable until it has loaded "
                           "its AOF; a Cluster fails over to the replica."]}]
    return []


def _to_cluster(x: Ctx) -> dict:
    rb = x.b.redis
    return {
        "title": f"Redis: {_shape(x.a)} -> {_shape(x.b)}", "component": "cache",
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
            "Then the API switches from REDIS_URL to REDIS_CLUSTER_NODES (all "
            f"{rb.pods} pods) with REDIS_CLUSTER_ENABLED=true."],
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
            'kubectl exec -n "$NS" redis-0 -c redis -- redis-server --port 6390 --bind 127.0.0.1 '
            "--dir /data --dbfilename before-cluster.rdb --appendonly no --cluster-enabled no "
            "--daemonize yes",
            f"{RCLI} --cluster import 127.0.0.1:6379 --cluster-from 127.0.0.1:6390 "
            "--cluster-copy --cluster-replace",
            'kubectl exec -n "$NS" redis-0 -c redis -- env -u REDISCLI_AUTH redis-cli -p 6390 '
            "SHUTDOWN NOSAVE",
            APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api'],
        "risks": [
            "Between redis-0's restart and the API rollout the old REDIS_URL client gets "
            "CLUSTERDOWN/MOVED errors: sessions and rate limits fail for that window.",
            "The API's Redis client must be cluster-aware (MOVED/ASK redirects, no SELECT, "
            "multi-key commands only within one hash slot: use {hash tags}).",
            "The temporary server in (b) needs memory beside redis-0 under its "
            f"{rb.resources.memory_limit} limit."],
    }


def _add_masters(x: Ctx) -> dict:
    ra, rb = x.a.redis, x.b.redis
    new = rb.masters - ra.masters
    masters = [f"redis-{ra.pods + k}" for k in range(new)]
    # add-node checks the cluster first and stops at "Nodes don't agree about configuration"
    # while gossip still spreads the node added before, and --cluster-master-id refuses an ID
    # redis-0 has not heard of: so each add waits for agreement, and each added node until
    # redis-0 knows it (both found running this runbook on real servers)
    settle = (f"for i in $(seq 120); do {RCLI} --cluster check $(ip redis-0):6379 >/dev/null "
              "2>&1 && break; sleep 1; done   # gossip agrees (at most 2 minutes)")

    def known(pod: str) -> str:
        return (f'until {RCLI} cluster nodes | grep "^$({RCLI} -h $(ip {pod}) cluster myid) " '
                "| grep -qv handshake; do sleep 1; done")

    lines = [IP, APPLY_NAME.format("redis"),
             'kubectl rollout status -n "$NS" statefulset/redis --timeout=15m']
    for m in masters:
        lines += [settle, f"{RCLI} --cluster add-node $(ip {m}):6379 $(ip redis-0):6379",
                  known(m)]
    for k, m in enumerate(masters):
        lines.append(f'ID=$({RCLI} -h $(ip {m}) cluster myid)')
        for j in range(rb.replicas_per_master):
            replica = f"redis-{ra.pods + new + k * rb.replicas_per_master + j}"
            lines += [settle, f"{RCLI} --cluster add-node $(ip {replica}):6379 "
                      '$(ip redis-0):6379 --cluster-slave --cluster-master-id "$ID"',
                      known(replica)]
    lines += [settle,
              f"{RCLI} --cluster rebalance $(ip redis-0):6379 --cluster-use-empty-masters",
              settle,
              f"{RCLI} --cluster check $(ip redis-0):6379   # [OK] All {SLOTS} slots covered.",
              'kubectl delete job -n "$NS" redis-cluster-bootstrap --ignore-not-found',
              APPLY_NAME.format("redis-cluster-bootstrap"),
              APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api']
    what = [f"Scale the StatefulSet to {rb.pods} pods, add {', '.join(masters)} as masters and "
            "their new pods as replicas, then rebalance: about "
            f"{SLOTS * new // rb.masters:,} of {SLOTS:,} slots move to the new masters.",
            "Add the nodes before the bootstrap Job runs again: its CLUSTER MEET would make "
            "them empty masters, and add-node refuses a node that already knows the cluster "
            "(then skip add-node for masters and run `CLUSTER REPLICATE <master-id>` on the "
            "replicas).",
            f"The API's REDIS_CLUSTER_NODES grows from {ra.pods} to {rb.pods} addresses."]
    if rb.replicas_per_master != ra.replicas_per_master:
        what.append(f"replicas_per_master {ra.replicas_per_master} -> "
                    f"{rb.replicas_per_master}: existing masters need the same add-node "
                    "--cluster-slave for their extra replicas.")
    return {"title": f"Redis Cluster: {_shape(x.a)} -> {_shape(x.b)}", "component": "cache",
            "moves_data": True, "what": what, "commands": lines,
            "risks": ["Slots migrate key by key (MIGRATE): latency on the keys being moved and "
                      "ASK/MOVED redirects; run it off-peak.",
                      "An interrupted rebalance leaves slots migrating/importing: repair with "
                      f"`{RCLI} --cluster fix $(ip redis-0):6379`.",
                      "Until the check reports all slots covered, do not delete any pod."]}



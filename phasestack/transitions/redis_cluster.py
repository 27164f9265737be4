"""Step builders of phasestack.transitions.runbook for resizing a Redis Cluster: adding masters, and
shrinking to fewer masters or to a standalone Redis (pure). Every command is executed in order
on real servers by tests/integration/test_runbook_commands.py."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.transitions.steps import APPLY, APPLY_NAME, IP, RCLI, SLOTS, Ctx

# add-node and del-node check the cluster first and stop at "Nodes don't agree about
# configuration" while gossip still spreads the change before (found on real servers)
SETTLE = (f"for i in $(seq 120); do {RCLI} --cluster check $(ip redis-0):6379 >/dev/null "
          "2>&1 && break; sleep 1; done   # gossip agrees (at most 2 minutes)")

# Valkey 9 replicates a slot's importing state to the importing master's replica, and after a
# rebalance a replica can keep it ([slot-<-id] in its own line): --cluster check then fails
# for good ("slots in importing state") and a replica refuses SETSLOT. The slot's owner
# re-issuing SETSLOT ... NODE <itself> reaches its replicas and closes it (found on real servers).
CLOSE_OPEN = (
    f"for a in $({RCLI} cluster nodes | awk '{{ split($2, h, \"@\"); print h[1] }}'); do "
    f"{RCLI} -h ${{a%:*}} -p ${{a##*:}} cluster nodes | awk '$3 ~ /myself/ {{ for (i = 9; "
    "NF >= i; i++) if ($i ~ /^\\[/) { s = substr($i, 2); sub(/-.*/, \"\", s); print s } }'; "
    f"done | sort -u | while read -r s; do {RCLI} cluster nodes | awk -v s=\"$s\" "
    "'$3 ~ /master/ { for (i = 9; NF >= i; i++) if ($i !~ /^\\[/) { n = split($i, r, \"-\"); "
    "if (s + 0 >= r[1] + 0 && r[n] + 0 >= s + 0) { split($2, h, \"@\"); print $1, h[1] } } }' "
    f"| while read -r id a; do {RCLI} -h ${{a%:*}} -p ${{a##*:}} cluster setslot \"$s\" node "
    "\"$id\" >/dev/null; done; done   # slots a replica left importing: closed by their owner")

BOOTSTRAP_DONE = ('kubectl wait -n "$NS" --for=condition=complete job/redis-cluster-bootstrap '
                  "--timeout=20m")
# inject.redis_cluster_nodes: three seeds, whatever the cluster's size
KEEPS_SEEDS = ("The API keeps its REDIS_CLUSTER_NODES (three seeds): its clients learn the new "
               "nodes from CLUSTER SLOTS, so it does not roll.")
MIGRATE_RISKS = ["Slots migrate key by key (MIGRATE): latency on the keys being moved and "
                 "ASK/MOVED redirects; run it off-peak.",
                 "An interrupted rebalance leaves slots migrating/importing: repair with "
                 f"`{RCLI} --cluster fix $(ip redis-0):6379`, then run the step again."]


def shape(stack: Stack) -> str:
    r = stack.redis
    if r.mode == "standalone":
        return f"standalone ({r.maxmemory_mb} MiB)"
    return (f"cluster {r.masters} masters x {r.replicas_per_master} replica(s) "
            f"({r.pods} pods, {r.maxmemory_mb} MiB each)")


def add_masters(x: Ctx) -> dict:
    ra, rb = x.a.redis, x.b.redis
    new = rb.masters - ra.masters
    masters = [f"redis-{ra.pods + k}" for k in range(new)]
    # add-node checks the cluster first and stops at "Nodes don't agree about configuration"
    # while gossip still spreads the node added before, and --cluster-master-id refuses an ID
    # redis-0 has not heard of: so each add waits for agreement, and each added node until
    # redis-0 knows it (both found running this runbook on real servers)

    def known(pod: str) -> str:
        return (f'until {RCLI} cluster nodes | grep "^$({RCLI} -h $(ip {pod}) cluster myid) " '
                "| grep -qv handshake; do sleep 1; done")

    lines = [IP, APPLY_NAME.format("redis"),
             'kubectl rollout status -n "$NS" statefulset/redis --timeout=15m']
    for m in masters:
        lines += [SETTLE, f"{RCLI} --cluster add-node $(ip {m}):6379 $(ip redis-0):6379",
                  known(m)]
    for k, m in enumerate(masters):
        lines.append(f'ID=$({RCLI} -h $(ip {m}) cluster myid)')
        for j in range(rb.replicas_per_master):
            replica = f"redis-{ra.pods + new + k * rb.replicas_per_master + j}"
            lines += [SETTLE, f"{RCLI} --cluster add-node $(ip {replica}):6379 "
                      '$(ip redis-0):6379 --cluster-slave --cluster-master-id "$ID"',
                      known(replica)]
    lines += [SETTLE,
              f"{RCLI} --cluster rebalance $(ip redis-0):6379 --cluster-use-empty-masters",
              CLOSE_OPEN, SETTLE,
              f"{RCLI} --cluster check $(ip redis-0):6379   # [OK] All {SLOTS} slots covered.",
              'kubectl delete job -n "$NS" redis-cluster-bootstrap --ignore-not-found',
              APPLY_NAME.format("redis-cluster-bootstrap")]
    what = [f"Scale the StatefulSet to {rb.pods} pods, add {', '.join(masters)} as masters and "
            "their new pods as replicas, then rebalance: about "
            f"{SLOTS * new // rb.masters:,} of {SLOTS:,} slots move to the new masters.",
            "Add the nodes before the bootstrap Job runs again: its CLUSTER MEET would make "
            "them empty masters, and add-node refuses a node that already knows the cluster "
            "(then skip add-node for masters and run `CLUSTER REPLICATE <master-id>` on the "
            "replicas).",
            KEEPS_SEEDS]
    if rb.replicas_per_master != ra.replicas_per_master:
        what.append(f"replicas_per_master {ra.replicas_per_master} -> "
                    f"{rb.replicas_per_master}: existing masters need the same add-node "
                    "--cluster-slave for their extra replicas.")
    return {"title": f"Redis Cluster: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
            "moves_data": True, "what": what, "commands": lines,
            "risks": [*MIGRATE_RISKS,
                      "Until the check reports all slots covered, do not delete any pod."]}


def add_replicas(x: Ctx) -> dict:
    """Same masters, more replicas each: the bootstrap Job adds every new pod as a replica of
    the master with the fewest."""
    ra, rb = x.a.redis, x.b.redis
    return {"title": f"Redis Cluster: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
            "what": [f"The StatefulSet grows to {rb.pods} pods; the bootstrap Job, run again, "
                     f"adds redis-{ra.pods}..redis-{rb.pods - 1} as replicas (no slot moves).",
                     KEEPS_SEEDS],
            "commands": [APPLY_NAME.format("redis"),
                         'kubectl rollout status -n "$NS" statefulset/redis --timeout=15m',
                         'kubectl delete job -n "$NS" redis-cluster-bootstrap --ignore-not-found',
                         APPLY_NAME.format("redis-cluster-bootstrap"), BOOTSTRAP_DONE,
                         f"{RCLI} --cluster check 127.0.0.1:6379   # [OK] All {SLOTS} slots "
                         "covered."],
            "risks": ["Each new replica copies its master's whole dataset (a full sync): disk "
                      "and network on the masters while it runs."]}


def _stop(what: str) -> str:  # a failed check says what and returns non-zero
    return f'{{ echo "STOP: {what}" >&2; false; }}'


def _wait(cond: str, what: str, tries: int, act: str = "", pause: int = 1) -> str:
    """Until `cond` holds (running `act` between tries), at most `tries` times, then say so."""
    return (f"for i in $(seq {tries}); do {cond} && break; {act}sleep {pause}; done; "
            f"{cond} || {_stop(what)}")


def shrink(x: Ctx) -> dict:
    """Cluster -> fewer masters, or -> standalone: every slot onto the masters that stay, the
    pods that stay but stop being masters turned into their replicas, the pods that go removed
    from the cluster, then the StatefulSet scaled down. Roles are read at run time: a failover
    may have swapped a master and its replica since the cluster was formed."""
    ra, rb = x.a.redis, x.b.redis
    standalone = rb.mode == "standalone"
    masters = 1 if standalone else rb.masters
    keep = 1 if standalone else rb.pods
    stay, replicas, gone = range(masters), range(masters, keep), range(keep, ra.pods)

    def on(k: int) -> str:
        return f"{RCLI} -h $(ip redis-{k})"

    def role(k: int) -> str:
        return f'[ "$({on(k)} role | head -1)" = master ]'

    def every(value: str) -> str:  # on each node of the cluster, by the address it announces
        return (f"for a in $({RCLI} cluster nodes | awk '{{ split($2, h, \"@\"); print h[1] }}'); "
                f"do {RCLI} -h ${{a%:*}} -p ${{a##*:}} config set "
                f"cluster-allow-replica-migration {value}; done")

    lines = [IP, f"{RCLI} --cluster info $(ip redis-0):6379   # keys per master, before"]
    # a replica where a master must stay takes its master's slots over. CLUSTER FAILOVER
    # answers OK and may still give up (its master's other replica just won a vote, the
    # masters wait 2 x node timeout before voting for that shard again): retried
    lines += [_wait(role(k), f"redis-{k} did not become a master", 24,
                    f"{on(k)} cluster failover; ", pause=5) for k in stay]
    # ... and redis-0 sees the masters they took over from as replicas: rebalance sends
    # SETSLOT to every node it takes for a master (found running this on real servers)
    demoted = (f'[ "$({RCLI} cluster nodes | awk \'$3 ~ /master/ && $3 !~ /fail/ && NF < 9\' '
               '| wc -l)" = 0 ]')
    lines.append(_wait(demoted, "redis-0 still lists a master without slots", 60))
    # a master that gives its last slot away turns itself into a replica of the taker, and
    # rebalance then sends SETSLOT to a replica and stops (found running this on real servers)
    lines.append(every("no"))
    lines.append("KEEP=\"" + " ".join(f"$({on(k)} cluster myid)" for k in stay) + '"')
    # weight 0 for every other master: rebalance moves all of their slots to the masters kept
    lines.append(f"W=$({RCLI} cluster nodes | awk -v keep=\" $KEEP \" "
                 "'$3 ~ /master/ && index(keep, \" \" $1 \" \") == 0 { printf \"%s=0 \", $1 }')")
    lines += [SETTLE, f"{RCLI} --cluster rebalance $(ip redis-0):6379 "
              "${W:+--cluster-weight $W}   # every slot onto the masters kept", CLOSE_OPEN,
              SETTLE]
    for k in replicas:  # emptied masters and replicas of a master that goes: a kept master's
        lines.append(f'[ "$({on(k)} cluster replicate $({on(stay[(k - masters) % masters])} '
                     f'cluster myid))" = OK ] || {_stop(f"redis-{k} did not become a replica")}')
    lines += [SETTLE] if replicas else []
    for k in reversed(gone):  # del-node refuses a node with slots: none is left on them
        lines += [f"{RCLI} --cluster del-node $(ip redis-0):6379 $({on(k)} cluster myid)",
                  SETTLE]
    lines.append(every("yes") + "   # the default again")
    claims = " ".join(f"data-redis-{k}" for k in gone)
    lines += [f"{RCLI} --cluster check $(ip redis-0):6379   # [OK] All {SLOTS} slots covered.",
              APPLY_NAME.format("redis"),
              'kubectl rollout status -n "$NS" statefulset/redis --timeout=15m',
              # a volume left with its nodes.conf would make add-node refuse that pod later
              f'kubectl delete pvc -n "$NS" {claims} --ignore-not-found',
              'kubectl delete job -n "$NS" redis-cluster-bootstrap --ignore-not-found']
    if not standalone:
        lines += [APPLY_NAME.format("redis-cluster-bootstrap"), BOOTSTRAP_DONE]
    else:  # REDIS_CLUSTER_NODES -> REDIS_URL (a cluster keeps its seeds: nothing to roll)
        lines += [APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api']
    total = masters * rb.maxmemory_mb
    what = [f"{ra.masters} masters -> {masters}: every slot moves onto redis-0"
            + (f"..redis-{masters - 1}" if masters > 1 else "")
            + f" (rebalance with weight 0 for the others); redis-{', redis-'.join(map(str, gone))} "
            "leave the cluster (del-node), then the StatefulSet scales down to "
            f"{keep} pod(s) and their volumes are deleted.",
            f"The masters kept must hold every key: {masters} x {rb.maxmemory_mb:,} MiB = "
            f"{total:,} MiB; compare with the used memory per master the first command prints."]
    if replicas:
        what.append(f"redis-{', redis-'.join(map(str, replicas))} stay as replicas of the "
                    "masters kept (CLUSTER REPLICATE once they hold no slot).")
    if standalone:
        what.append(f"redis-0, left the only master with all {SLOTS} slots, restarts as a "
                    "standalone Redis on the same volume: its AOF holds every key. The API "
                    "switches from REDIS_CLUSTER_NODES to REDIS_URL.")
    return {"title": f"Redis: {shape(x.a)} -> {shape(x.b)}", "component": "redis",
            "moves_data": True, "what": what, "commands": lines,
            "risks": [*MIGRATE_RISKS,
                      "Until the StatefulSet has scaled down, a removed pod that restarts is "
                      "outside the cluster: clients that still list it in "
                      "REDIS_CLUSTER_NODES skip it."]}

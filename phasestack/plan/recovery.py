"""What survives what (pure): per data store of a stack, what each failure loses and how long
writes stop, checked against review 001's objectives (issue 16, item 4).

Figures come from the topology and from Kubernetes' defaults the stack does not change; a
managed service's are its provider's, which phasestack cannot see.
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.plan.checks import FAIL, PASS, WARN, Check

# review 001 (001_9fbd6927d93be06f.txt), "Disaster Recovery": RTO < 1 hour, RPO < 15 minutes
RTO_S, RPO_S = 3600, 15 * 60
# Kubernetes defaults: a pod on an unreachable node is evicted after its toleration
# (node.kubernetes.io/unreachable, 300 s), and its ReadWriteOnce volume attaches elsewhere only
# after the attach-detach controller's forced detach (6 min)
EVICTION_S, FORCE_DETACH_S = 300, 360
NODE_LOSS_S = EVICTION_S + FORCE_DETACH_S
# redis.conf: appendfsync everysec; synth.redis.CLUSTER_NODE_TIMEOUT_MS
AOF_FSYNC_S = 1


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min"


def postgres(stack: Stack) -> list[Check]:
    if stack.postgres.external:
        return [Check("recovery point (RPO)", "postgres", WARN,
                      "managed PostgreSQL: the provider's backups and failover, which "
                      "phasestack cannot see",
                      "confirm point-in-time restore is on and its window covers review 001's "
                      f"{_minutes(RPO_S)} RPO")]
    pg = stack.postgres
    copy = (f" (unless one of the {pg.read_replicas} read replica(s) is promoted by hand: "
            f"asynchronous, at most {pg.replica_max_lag_mb} MiB of WAL behind while ready; a "
            "dropped table or a lost namespace is gone on every copy)"
            if pg.read_replicas else "")
    return [
        Check("recovery point (RPO)", "postgres", FAIL,
              "no WAL archive or base backup (phasestack deploys none yet): a lost volume loses "
              "every committed row" + copy,
              f"RPO unbounded <= review 001's {_minutes(RPO_S)}: false"),
        Check("writes stop (RTO)", "postgres", PASS,
              "one primary, no automatic failover: a crashed server restarts in its pod "
              "(nothing committed is lost: WAL is fsynced); a lost node stops writes until "
              "the pod is evicted and its volume attached elsewhere",
              f"node loss ~ eviction {EVICTION_S} s + forced detach {FORCE_DETACH_S} s = "
              f"{_minutes(NODE_LOSS_S)} <= review 001's {_minutes(RTO_S)}"),
    ]


def redis(stack: Stack) -> list[Check]:
    if not stack.has("redis"):
        return []
    if stack.redis.external:
        return [Check("recovery point (RPO)", "redis", WARN,
                      "managed Redis: the provider's snapshots and failover, which phasestack "
                      "cannot see", "confirm snapshots (or replicas with failover) are on")]
    from phasestack.synth.redis import CLUSTER_NODE_TIMEOUT_MS

    r = stack.redis
    aof = (f"AOF fsynced every {AOF_FSYNC_S} s on each pod's volume" if r.appendonly
           else "no AOF: a restart loses every key")
    if r.mode == "cluster":
        return [Check("recovery point (RPO)", "redis", PASS,
                      f"{aof}; a lost master or its volume: its replica takes over after "
                      f"cluster-node-timeout {CLUSTER_NODE_TIMEOUT_MS / 1000:g} s with the "
                      "keys, less the last asynchronously replicated writes; both halves of a "
                      "shard lost: its keys are gone (no snapshot leaves the volumes)",
                      f"one failure: seconds of writes <= review 001's {_minutes(RPO_S)}")]
    return [Check("recovery point (RPO)", "redis", FAIL,
                  f"{aof}; one server and no snapshot leaving its volume: a lost "
                  f"volume loses every key, a lost node stops it ~{_minutes(NODE_LOSS_S)}",
                  f"volume loss: RPO unbounded <= review 001's {_minutes(RPO_S)}: false")]


def checks(stack: Stack) -> list[Check]:
    return [*postgres(stack), *redis(stack)]

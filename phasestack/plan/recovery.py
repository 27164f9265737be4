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
# Kubernetes defaults: a pod on an unreachable node is marked for deletion after its
# toleration (node.kubernetes.io/unreachable, 300 s), but a StatefulSet starts no replacement
# until the pod is gone: until the Node object is deleted (a cloud's node controller does it
# once the instance is gone), someone force-deletes the pod, or the node gets the
# out-of-service taint; its ReadWriteOnce volume then attaches elsewhere (the attach-detach
# controller force-detaches after 6 min)
EVICTION_S, FORCE_DETACH_S = 300, 360
NODE_LOSS_S = EVICTION_S + FORCE_DETACH_S
AOF_FSYNC_S = 1  # redis.conf: appendfsync everysec


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min"


# engine cloudnativepg, a lost node: the node controller marks the node (and so the primary
# pod) not ready after node-monitor-grace-period (50 s from Kubernetes 1.32, 40 s before), the
# operator fails over (failoverDelay 0), the standby promotes once the primary's lease expires
# (primaryLease.leaseDurationSeconds 15, counted from its last renewal, so already running)
NODE_GRACE_S, LEASE_S = 50, 15
UPLOAD_S = 5  # one 16 MiB segment to the store, gzip: seconds (tests/integration PITR)


def _archived(stack: Stack) -> Check:
    """postgres.backup's recovery point, either engine."""
    b, rpo = stack.postgres.backup, stack.postgres.backup.archive_timeout_s + UPLOAD_S
    into = ("into a new Cluster" if stack.postgres.engine == "cloudnativepg" else
            "into a new stack or volume (postgres.recover_from; the backup sidecar archives)")
    return Check(
        "recovery point (RPO)", "postgres", PASS if rpo <= RPO_S else FAIL,
        f"WAL archived to {b.store.destination} within archive_timeout "
        f"{b.archive_timeout_s} s of a write, base backups on \"{b.schedule}\" kept "
        f"{b.retention_days} d: a lost volume, namespace or cluster, or a dropped table, "
        f"restores to any time in the window {into} (`phasestack restore`)",
        f"archive_timeout {b.archive_timeout_s} s + upload ~{UPLOAD_S} s = {rpo} s <= "
        f"review 001's {_minutes(RPO_S)}: {str(rpo <= RPO_S).lower()}")


def _cnpg(stack: Stack) -> list[Check]:
    pg = stack.postgres
    sync = pg.cloudnativepg.synchronous if pg.read_replicas else "off"
    if pg.backup:
        point = _archived(stack)
    else:
        point = Check(
            "recovery point (RPO)", "postgres", FAIL,
            "no postgres.backup: no WAL archive or base backup; a standby keeps a lost "
            "volume's rows, but a dropped table, a lost namespace or cluster is gone on every "
            "copy", f"RPO unbounded <= review 001's {_minutes(RPO_S)}: false")
    if not pg.read_replicas:
        return [point, Check(
            "writes stop (RTO)", "postgres", WARN,
            "a CloudNativePG Cluster of one instance: no standby to promote; a lost node stops "
            "writes until the pod is recreated elsewhere with a new volume restored from the "
            "backup (or the node returns)", "add read_replicas for automatic failover")]
    lost = {"required": "nothing acknowledged: a commit returns once a standby has it "
                        "(quorum ANY 1), and the most advanced standby is promoted; writes "
                        "wait while no standby streams",
            "preferred": "nothing acknowledged while a standby streams; commits made while "
                         "none did may be lost",
            "off": "the last asynchronously replicated commits (asynchronous standbys)"}[sync]
    rto = NODE_GRACE_S + LEASE_S
    return [point, Check(
        "writes stop (RTO)", "postgres", PASS,
        f"automatic failover to one of {pg.read_replicas} standby(s) (CloudNativePG); a "
        f"failover loses {lost}; a crashed server restarts in place",
        f"node loss: node-monitor-grace-period {NODE_GRACE_S} s + primary lease "
        f"{LEASE_S} s + promotion = ~{rto} s <= review 001's {_minutes(RTO_S)}: true")]


def postgres(stack: Stack) -> list[Check]:
    if stack.postgres.engine == "cloudnativepg" and not stack.postgres.external:
        return _cnpg(stack)
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
        _archived(stack) if pg.backup else
        Check("recovery point (RPO)", "postgres", FAIL,
              "no WAL archive or base backup (no postgres.backup): a lost volume loses every "
              "committed row" + copy,
              f"RPO unbounded <= review 001's {_minutes(RPO_S)}: false"),
        Check("writes stop (RTO)", "postgres", WARN,
              "one primary, no automatic failover: a crashed server restarts in its pod "
              "(nothing committed is lost: WAL is fsynced); a lost node stops writes until "
              "its pod is deleted (the Node object deleted by the cloud's node controller, a "
              "force delete, or the out-of-service taint), then its volume attaches elsewhere",
              f"node loss >= eviction {EVICTION_S} s + forced detach {FORCE_DETACH_S} s = "
              f"{_minutes(NODE_LOSS_S)}, plus the wait for the pod's deletion: within review "
              f"001's {_minutes(RTO_S)} only if that happens within "
              f"{_minutes(RTO_S - NODE_LOSS_S)}"),
    ]


# assumed, not measured: one run's dump and upload stream at this rate (an in-region store)
SNAPSHOT_MIB_PER_S = 50


def _snapshots(stack: Stack) -> tuple[str, float | None]:
    """What redis.backup adds, and its RPO for a lost volume (None: no bound)."""
    from phasestack.model import cron
    from phasestack.synth.redis_snapshot import destination

    b, r = stack.redis.backup, stack.redis
    if b is None:
        return "no snapshot leaves the volumes", None
    gap = cron.max_gap_minutes(b.schedule)
    run_s = r.maxmemory_mb / SNAPSHOT_MIB_PER_S  # the largest master's RDB, dumped and sent
    every = f"at most {gap:g} min apart" if gap is not None else "a day or more apart"
    text = (f"RDB snapshots of {'every master' if r.mode == 'cluster' else 'the server'} to "
            f"{destination(b)}/ on \"{b.schedule}\" ({every}), kept {b.retention_days} d "
            "(`phasestack restore STACK --time T --redis`)")
    return text, None if gap is None else gap * 60 + run_s


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
    snaps, rpo = _snapshots(stack)
    lost = (f"restored from the last snapshot (RPO ~{rpo:.0f} s)" if rpo is not None
            else "gone")
    if r.mode == "cluster":
        return [Check("recovery point (RPO)", "redis", PASS,
                      f"{aof}; a lost master or its volume: its replica takes over after "
                      f"cluster-node-timeout {CLUSTER_NODE_TIMEOUT_MS / 1000:g} s with the "
                      "keys, less the last asynchronously replicated writes; both halves of a "
                      f"shard or the namespace lost: its keys are {lost}; {snaps}",
                      f"one failure: seconds of writes <= review 001's {_minutes(RPO_S)}")]
    if rpo is None:
        return [Check("recovery point (RPO)", "redis", FAIL,
                      f"{aof}; one server and {snaps}: a lost volume loses every key; a lost "
                      "node stops it until its pod is deleted (as PostgreSQL)",
                      f"volume loss: RPO unbounded <= review 001's {_minutes(RPO_S)}: false")]
    ok = rpo <= RPO_S
    return [Check("recovery point (RPO)", "redis", PASS if ok else FAIL,
                  f"{aof}; one server and {snaps}: a lost volume loses the writes since the "
                  "last snapshot; a lost node stops it until its pod is deleted (as PostgreSQL)",
                  f"volume loss: snapshot gap + one run (~{rpo:.0f} s, {r.maxmemory_mb} MiB at "
                  f"an assumed {SNAPSHOT_MIB_PER_S} MiB/s) <= review 001's {_minutes(RPO_S)}: "
                  f"{str(ok).lower()}")]


def checks(stack: Stack) -> list[Check]:
    return [*postgres(stack), *redis(stack)]


def engine(stack: Stack) -> str:
    pg = stack.postgres
    if pg.external:
        return "managed"
    if stack.target == "docker":
        return "one container (docker host)"
    if pg.engine == "statefulset":
        return "StatefulSet" + (f" + {pg.read_replicas} async replica(s)"
                                if pg.read_replicas else "") + (", backups" if pg.backup else "")
    sync = pg.cloudnativepg.synchronous if pg.read_replicas else "off"
    return (f"CloudNativePG, {pg.read_replicas} standby(s), synchronous {sync}"
            + (", backups" if pg.backup else ""))


def table(stacks: dict[str, Stack]) -> str:
    """The README's "what survives what": each stack's recovery verdicts, as plan states them
    (tests/unit/test_plan_recovery.py keeps the README's copy equal to this)."""
    lines = ["| stack | PostgreSQL | PostgreSQL RPO | PostgreSQL RTO (lost node) | Redis RPO |",
             "|---|---|---|---|---|"]
    for name, stack in stacks.items():
        by = {(c.component, c.name): c.status for c in checks(stack)}
        cells = [by.get(("postgres", "recovery point (RPO)"), "-"),
                 by.get(("postgres", "writes stop (RTO)"), "-"),
                 by.get(("redis", "recovery point (RPO)"), "no Redis")
                 + (", snapshots" if stack.runs("redis") and stack.redis.backup else "")]
        lines.append(f"| {name} | {engine(stack)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

"""Step builders of the runbook (transitions.runbook) for moving PostgreSQL or Redis between the
cluster and a managed service (postgres.external, redis.external; issue 14 item 6; review 001,
"Migrate to managed database"; review 003 §8, "When Must DB Be Separated"). Pure; no command
carries a credential: pg_dump and pg_restore ask for the password (-W)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth.api import worker_name
from phasestack.transitions.stateless import migration_commands
from phasestack.transitions.steps import APPLY, APPLY_NAME, Ctx

DUMP = "app.dump"


def _writers(stack: Stack) -> list[str]:
    return ["api", *(worker_name(w) for w in stack.api.workers)]


def _stop(stack: Stack) -> list[str]:
    return [f'kubectl scale -n "$NS" deployment/{d} --replicas=0   # writes stop here'
            for d in _writers(stack)]


def _start(stack: Stack) -> list[str]:
    """The API and workers on the new URLs, back at their pod counts: an HPA-managed
    Deployment's manifest has no replicas (apply leaves it at 0) and an HPA does not scale up
    from 0, so each is scaled to its minimum, which the HPA then takes over."""
    counts = {"api": stack.api.min_pods, **{worker_name(w): w.min_pods
                                            for w in stack.api.workers}}
    out = [APPLY.format("api")] + ([APPLY.format("worker")] if stack.api.workers else [])
    out += [f'kubectl scale -n "$NS" deployment/{d} --replicas={n}' for d, n in counts.items()]
    return out + [f'kubectl rollout status -n "$NS" deployment/{d}' for d in counts]


def _redis_to_managed(x: Ctx) -> bool:
    return (x.a.has("redis") and x.b.has("redis") and x.a.redis.external is None
            and x.b.redis.external is not None)


def _postgres_to_managed(x: Ctx) -> bool:
    return x.a.postgres.external is None and x.b.postgres.external is not None


def _snapshot(stack: Stack) -> list[str]:
    """RDB files for the managed service's import: redis-0's, or one per Cluster master (each
    holds its own slots; ElastiCache seeds a cluster from several RDB files)."""
    if stack.redis.mode == "standalone":
        return ['kubectl exec -n "$NS" redis-0 -c redis -- redis-cli --rdb /data/move.rdb',
                'kubectl cp -n "$NS" -c redis redis-0:/data/move.rdb move.rdb   # for the import']
    pods = " ".join(f"redis-{i}" for i in range(stack.redis.pods))
    return [f'for p in {pods}; do if kubectl exec -n "$NS" "$p" -c redis -- redis-cli role | '
            'head -n 1 | grep -qx master; then kubectl exec -n "$NS" "$p" -c redis -- '
            'redis-cli --rdb /data/move.rdb && kubectl cp -n "$NS" -c redis '
            '"$p:/data/move.rdb" "$p.rdb"; fi; done   # one RDB per master, for the import']


def postgres(x: Ctx) -> list[dict]:
    ea, eb = x.a.postgres.external, x.b.postgres.external
    if (ea is None) == (eb is None) and (ea is None or ea.host == eb.host):
        return []
    pg = x.b.postgres
    restart = [APPLY.format("pgbouncer")] if x.b.pgbouncer.enabled else []
    restart += _start(x.b)
    common_risks = [
        "Downtime lasts from the scale-down to the rollout: the dump and restore time, which "
        "grows with the database (measure it on a copy first).",
        "Extensions (pg_stat_statements), roles' settings (statement_timeout, lock_timeout) "
        "and the sequences come with the dump only where the target allows them: check them "
        "after the restore."]
    if eb is not None:
        target = f"{eb.host}:{eb.port}"
        return [{
            "title": f"PostgreSQL: in the cluster -> managed ({eb.host})",
            "component": "postgres", "moves_data": True,
            "what": [
                f"Before: on the managed instance, the database {pg.database} and the role "
                f"{pg.app_user} exist, and the Secret {eb.password_secret} (key "
                f"{eb.password_key}) holds that role's password in the namespace; the cluster "
                f"reaches {target} ({', '.join(eb.cidrs)}).",
                "Dump and restore: the API and workers stop, the in-cluster primary is dumped "
                "and restored on the managed instance, then they start with the new URLs. "
                "Without downtime: the provider's migration service (AWS DMS, Cloud SQL or "
                "Azure Database Migration Service) replicates logically, then the same "
                "rollout cuts over.",
                "The in-cluster StatefulSet and its volume stay until `pulumi up` (or the "
                "verify step) removes them: keep them and the dump until the new database "
                "has served for a while."],
            "commands": [
                *_stop(x.a),
                # Redis moves too: its snapshot now, while nothing writes (the rollout below
                # already points the API at the managed Redis)
                *(_snapshot(x.a) if _redis_to_managed(x) else []),
                f'kubectl exec -n "$NS" postgres-0 -c postgres -- pg_dump -U postgres -Fc '
                f"{x.a.postgres.database} > {DUMP}",
                f"pg_restore -h {eb.host} -p {eb.port} -U {pg.app_user} -d {pg.database} "
                f"--no-owner --role={pg.app_user} -W {DUMP}",
                *migration_commands(x), *restart],
            "risks": [*common_risks,
                      f"With sslmode {eb.sslmode} the server's certificate is not verified."],
        }]
    source = f"{ea.host}:{ea.port}"
    return [{
        "title": f"PostgreSQL: managed ({ea.host}) -> in the cluster",
        "component": "postgres", "moves_data": True,
        "what": [f"The in-cluster primary starts empty; the managed database ({source}) is "
                 "dumped into it while the API and workers are stopped."],
        "commands": [
            APPLY.format("postgres"),
            'kubectl rollout status -n "$NS" statefulset/postgres --timeout=10m',
            *_stop(x.a),
            f"pg_dump -h {ea.host} -p {ea.port} -U {x.a.postgres.app_user} -Fc -W "
            f"{x.a.postgres.database} > {DUMP}",
            f'kubectl exec -i -n "$NS" postgres-0 -c postgres -- pg_restore -U postgres -d '
            f"{pg.database} --no-owner --role={pg.app_user} < {DUMP}",
            *migration_commands(x), *restart],
        "risks": common_risks,
    }]


def redis(x: Ctx) -> list[dict]:
    """In-cluster Redis -> a managed one, or back (review 003 §8, "When Must Redis Be
    Separated")."""
    ea, eb = x.a.redis.external, x.b.redis.external
    if not (x.a.has("redis") and x.b.has("redis")) or (ea is None) == (eb is None) and (
            ea is None or ea.host == eb.host):
        return []
    # the API and workers on the new URL, at the pod counts they run at now
    writers = _writers(x.b)
    roll = [APPLY.format("api"), *([APPLY.format("worker")] if x.b.api.workers else []),
            *(f'kubectl rollout status -n "$NS" deployment/{d}' for d in writers)]
    if eb is not None:
        return [{
            "title": f"Redis: in the cluster -> managed ({eb.host})", "component": "redis",
            "moves_data": True,
            "what": [
                f"Before: the managed Redis answers on {eb.host}:{eb.port} from the cluster "
                f"({', '.join(eb.cidrs)}), and the Secret {eb.password_secret} (key "
                f"{eb.password_key}) holds its password or AUTH token.",
                "Sessions, rate-limit counters and queued jobs live in Redis. Either accept a "
                "session-loss window (users sign in again; drain the queues first), or copy "
                "a snapshot: an RDB (redis-0's, or one per Cluster master), seeded into the "
                "managed service by its import (ElastiCache: RDB files in S3; Memorystore: "
                "import from Cloud Storage), losing the writes after the snapshot: pause after "
                "the copy and seed the managed service from it (ElastiCache seeds a new "
                "cluster from RDB files in S3) before the rollout below.",
                *(["PostgreSQL moves in the same release: the snapshot is taken in its step, "
                   "while the API and workers are stopped, and its rollout switches them to "
                   "the managed Redis."] if _postgres_to_managed(x) else [])],
            # with PostgreSQL moving too, its step took the snapshot and rolled the API
            "commands": [] if _postgres_to_managed(x) else [*_snapshot(x.a), *roll],
            "risks": ["Between the rollout's first and last pod, old pods write to the "
                      "in-cluster Redis: those writes are lost (a short window; a maintenance "
                      "page avoids it).",
                      "The app's client must speak TLS (rediss://, REDIS_TLS) when "
                      "external.tls is on."]}]
    return [{
        "title": f"Redis: managed ({ea.host}) -> in the cluster", "component": "redis",
        "moves_data": True,
        "what": ["The in-cluster Redis starts empty: sessions and queued jobs in the managed "
                 "one are lost unless its export (an RDB) is placed in redis-0's volume before "
                 "it starts."],
        "commands": [APPLY_NAME.format("redis"),
                     'kubectl rollout status -n "$NS" statefulset/redis', *roll],
        "risks": ["Users sign in again; drain the queues first."]}]

"""Step builders of the runbook (transitions.runbook) for the data tier: PostgreSQL read replicas
and restarts, PgBouncer and the API's database URLs and pool sizes (pure; psql runs inside
postgres-0 as the postgres role's local peer login, so no command carries a credential)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.plan.checks import pool_clients
from phasestack.synth import api
from phasestack.synth.common import PORTS, POSTGRES_REPLICA
from phasestack.synth.postgres_config import slot_name
from phasestack.transitions.steps import APPLY, PSQL, Ctx

# postgresql.conf settings that only take effect when the server restarts
RESTART_SETTINGS = ("max_connections", "shared_buffers", "max_wal_senders",
                    "max_replication_slots", "wal_level", "shared_preload_libraries")


def _urls(stack: Stack) -> tuple[str, str]:
    """The API's database URLs with the namespace of their DNS names as $NS (only there: a
    namespace `app` must not rewrite the user or database `app`)."""
    ns = f".{stack.namespace}.svc"
    return tuple(u.replace(ns, ".$NS.svc") for u in api.database_urls(stack))


def postgres(x: Ctx) -> list[dict]:
    if x.a.postgres.external or x.b.postgres.external:
        return []  # nothing of ours to resize or restart (transitions.managed moves the data)
    if "cloudnativepg" in (x.a.postgres.engine, x.b.postgres.engine):
        return []  # the operator's (transitions.cnpg)
    ra, rb = x.a.postgres.read_replicas, x.b.postgres.read_replicas
    restart = sorted({s for fc in x.changed("ConfigMap", "postgres") for line in fc.lines
                      for s in RESTART_SETTINGS if line[1:].startswith(f"{s} ")})
    steps = []
    if rb > ra:
        steps.append({
            "title": f"PostgreSQL: read replicas {ra} -> {rb}", "component": "postgres",
            "moves_data": True,
            "what": [f"Each new replica clones the primary with pg_basebackup, then streams WAL; "
                     f"wait until pg_stat_replication shows {rb} row(s) in state streaming "
                     "before any read goes to them."],
            "commands": [APPLY.format("postgres"),
                         'kubectl rollout status -n "$NS" statefulset/postgres --timeout=10m',
                         'kubectl rollout status -n "$NS" statefulset/postgres-replica '
                         "--timeout=30m",
                         PSQL.format("SELECT application_name, state, sync_state, replay_lag "
                                     "FROM pg_stat_replication"),
                         'kubectl exec -n "$NS" postgres-replica-0 -c postgres -- psql -U '
                         'postgres -Atc "SELECT pg_is_in_recovery(), now() - '
                         'pg_last_xact_replay_timestamp()"'],
            "risks": ["pg_basebackup copies the whole database from the primary: disk and "
                      "network load on it for a time that grows with the database.",
                      "A stalled replica makes the primary keep WAL: watch its volume "
                      f"({x.b.postgres.storage_gb} GiB).",
                      "Replicas lag: reads that must see the request's own writes stay on "
                      "DATABASE_URL (the primary)."],
        })
    elif rb < ra:
        gone = [f"{POSTGRES_REPLICA}-{i}" for i in range(rb, ra)]
        steps.append({
            "title": f"PostgreSQL: read replicas {ra} -> {rb}", "component": "postgres",
            "what": ["Move reads off the replicas first (DATABASE_READ_URL), then scale down "
                     "and drop the removed replicas' slots: an unused slot keeps WAL on the "
                     "primary (up to max_slot_wal_keep_size) and PostgresReplicaNotStreaming "
                     "fires for it. Their volumes stay until their PVCs are deleted."],
            "commands": [APPLY.format("api"), APPLY.format("postgres"),
                         *(f'kubectl wait -n "$NS" --for=delete pod/{pod} --timeout=5m'
                           for pod in gone),
                         *(PSQL.format(f"SELECT pg_drop_replication_slot('{slot_name(pod)}')")
                           for pod in gone)],
            "risks": ["Fewer replicas carry the same read load."],
        })
    if restart:
        steps.append({
            "title": "PostgreSQL: settings that need a restart", "component": "postgres",
            "what": [f"postgresql.conf changes {', '.join(restart)}: the primary restarts to "
                     "apply them (the StatefulSet rolls on the config hash)."],
            "commands": [APPLY.format("postgres"), PSQL.format(
                "SELECT name, setting, pending_restart FROM pg_settings WHERE pending_restart")],
            "risks": ["Writes fail while the primary restarts (seconds to a minute): schedule "
                      "it in a quiet window" + (
                          f"; PgBouncer holds clients for query_wait_timeout "
                          f"({x.b.pgbouncer.query_wait_timeout_s} s)."
                          if x.b.pgbouncer.enabled else ".")],
        })
    return steps


def pooler(x: Ctx) -> list[dict]:
    pa, pb, aa, ab = x.a.pgbouncer, x.b.pgbouncer, x.a.app, x.b.app
    (rw_a, ro_a), (rw_b, ro_b) = _urls(x.a), _urls(x.b)
    steps = []
    if pb.enabled and not pa.enabled:
        steps.append({
            "title": "PgBouncer in front of PostgreSQL; re-point the API", "component": "pgbouncer",
            "what": [f"Deploy {pb.replicas} PgBouncer pod(s) ({pb.pool_mode} pooling), check "
                     "both databases through them, then roll the API:",
                     f"DATABASE_URL: {rw_a} -> {rw_b}",
                     f"DATABASE_READ_URL: {ro_a} -> {ro_b}",
                     f"DB_POOL_SIZE (per pod): {aa.app_pool_per_pod} -> {ab.app_pool_per_pod}"],
            "commands": [APPLY.format("pgbouncer"),
                         'kubectl rollout status -n "$NS" deployment/pgbouncer',
                         f'kubectl port-forward -n "$NS" svc/pgbouncer {PORTS.pgbouncer} &',
                         f'psql "host=127.0.0.1 port={PORTS.pgbouncer} dbname='
                         f'{x.b.postgres.database} user={x.b.postgres.app_user}" -c "SELECT 1"',
                         f'psql "host=127.0.0.1 port={PORTS.pgbouncer} dbname='
                         f'{x.b.postgres.database}_ro user={x.b.postgres.app_user}" '
                         '-c "SELECT pg_is_in_recovery()"',
                         APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api'],
            "risks": ["Transaction pooling drops session state between transactions: "
                      "server-side prepared statements, SET, advisory locks, LISTEN/NOTIFY and "
                      "temporary tables need the client configured for it.",
                      "During the API rollout old pods still hold direct pools: the primary "
                      "sees both for a while; roll with a small maxSurge."],
        })
    elif pa.enabled and not pb.enabled:
        steps.append({
            "title": "Remove PgBouncer; the API connects directly", "component": "pgbouncer",
            "what": [f"DATABASE_URL: {rw_a} -> {rw_b}", f"DATABASE_READ_URL: {ro_a} -> {ro_b}"],
            "commands": [APPLY.format("api"), 'kubectl rollout status -n "$NS" deployment/api'],
            "risks": ["Every API pod's pool now lands on max_connections directly."],
        })
    elif ro_a != ro_b or rw_a != rw_b:
        steps.append({
            "title": "Re-point the API's database URLs", "component": "api",
            "what": [f"DATABASE_URL: {rw_a} -> {rw_b}", f"DATABASE_READ_URL: {ro_a} -> {ro_b}"],
            "commands": [APPLY.format("api")], "risks": []})
    changes = [f"{what}: {before} -> {after}" for what, before, after in [
        ("PgBouncer", _pgb(x.a), _pgb(x.b)),
        ("app pool per pod", aa.app_pool_per_pod, ab.app_pool_per_pod),
        ("pods opening a pool", pool_clients(x.a)[1], pool_clients(x.b)[1]),
        ("postgres max_connections", x.a.postgres.max_connections,
         x.b.postgres.max_connections)] if before != after]
    if changes:
        # the PgBouncer step above already re-points the API when PgBouncer comes or goes
        pgb_resized = pa.enabled and pb.enabled and _pgb(x.a) != _pgb(x.b)
        steps.append({
            "title": "Re-derive pool sizes", "component": "pgbouncer",
            "what": [*changes, "The planner's connection formulas for both sides are listed "
                     "under Connection formulas; lower app pools before raising pod counts."],
            "commands": [APPLY.format("pgbouncer"), 'kubectl rollout status -n "$NS" '
                         "deployment/pgbouncer"] if pgb_resized else [APPLY.format("api")],
            "risks": ["A PgBouncer restart drops its client connections: apps must retry."]
            if pgb_resized else [],
        })
    return steps


def _pgb(stack: Stack) -> str:
    p = stack.pgbouncer
    if not p.enabled:
        return "none"
    return (f"{p.replicas} pod(s) x (pool {p.default_pool_size} + reserve {p.reserve_pool_size})"
            f", max_client_conn {p.max_client_conn}")

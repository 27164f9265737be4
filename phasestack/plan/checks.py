"""Capacity checks of PostgreSQL (pure): connections and budget (Redis's: plan/cache.py). The
Check type and grading shared with phasestack.plan.capacity live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Stack

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# A check at more than this share of its limit warns: review 002, Required Metrics, puts the
# critical Redis memory threshold at 80%.
HEADROOM = 0.8


@dataclass(frozen=True)
class Check:
    name: str
    component: str
    status: str
    reason: str
    formula: str
    limit_rps: float | None = None  # peak rps at which this check reaches its limit


def grade(used: float, limit: float) -> str:
    if used > limit:
        return FAIL
    return WARN if used > HEADROOM * limit else PASS


def num(x: float) -> str:
    """A figure for people: one decimal, but small ones keep two significant digits
    (0.033 rps is not 0.0)."""
    return f"{x:.2g}" if 0 < abs(x) < 0.1 else f"{x:,.1f}"


def keep(x: float) -> float:
    """A figure as the report stores it: rounded like num() shows it."""
    return float(f"{x:.2g}") if 0 < abs(x) < 0.1 else round(x, 1)


def ratio(used: float, limit: float, unit: str) -> str:
    """"201.0 of 200.0 connections (100.5%)": a share over the limit never rounds down to a
    pass-looking 100%."""
    pct = 100 * used / limit if limit else float("inf")
    shown = f"{pct:.0f}%"
    if used > limit and round(pct) <= 100:
        shown = f"{pct:.1f}%" if round(pct, 1) > 100 else ">100%"
    return f"{num(used)} of {num(limit)} {unit} ({shown})"


def compared(formula: str, holds: bool) -> str:
    """A check's formula with the result of its comparison when it does not hold
    ("min_pods 1 >= 2: false"), so a failing check never prints a false inequality as fact."""
    return formula if holds else f"{formula}: false"


def pool_clients(stack: Stack) -> tuple[int, str]:
    """Pods that open an app pool (API at its ceiling, plus queue workers) and how to say it."""
    workers = sum(w.max_pods for w in stack.api.workers)  # at the HPA's ceiling, if any
    pods = stack.api.max_pods + workers
    said = (f"(api pods {stack.api.max_pods} + worker pods {workers})" if workers
            else f"api pods {stack.api.max_pods}")
    return pods, said


def query_split(stack: Stack) -> tuple[float, float, float]:
    """Per request: (queries on the primary, reads on the replicas, reads served by the cache).
    Reads for DATABASE_READ_URL land on the primary when the stack has no replicas."""
    app = stack.app
    reads = app.db_queries_per_request * app.read_fraction
    cached = reads * app.cache_hit_rate
    primary = app.db_queries_per_request - reads
    if not stack.postgres.read_replicas:
        return primary + reads - cached, 0.0, cached
    return primary, reads - cached, cached


def _split_formula(stack: Stack) -> str:
    app = stack.app
    if not (app.read_fraction or app.cache_hit_rate):
        return f"queries {app.db_queries_per_request:g}"
    primary, _, _ = query_split(stack)
    reads = "" if stack.postgres.read_replicas else \
        f" + reads {app.read_fraction:g} x (1 - cache_hit {app.cache_hit_rate:g})"
    return (f"queries {app.db_queries_per_request:g} x (1 - read_fraction "
            f"{app.read_fraction:g}){reads} = {primary:g} on the primary")


def db_server(stack: Stack, rps: float) -> Check:
    app, pg, pgb = stack.app, stack.postgres, stack.pgbouncer
    primary, _, _ = query_split(stack)
    per_rps = primary * app.query_ms / 1000
    need = rps * per_rps
    if pgb.enabled:
        have = pgb.default_pool_size * pgb.replicas
        source = f"pgbouncer default_pool_size {pgb.default_pool_size} x pods {pgb.replicas}"
    else:
        usable = pg.max_connections - pg.superuser_reserved_connections
        pods, said = pool_clients(stack)
        have = min(pods * app.app_pool_per_pod, usable)
        source = (f"min({said} x app_pool {app.app_pool_per_pod}, "
                  f"max_connections {pg.max_connections} - reserved "
                  f"{pg.superuser_reserved_connections})")
    return Check(
        "db_server_connections", "postgres", grade(need, have),
        f"queries in flight need {ratio(need, have, 'server connections')}",
        compared(f"peak_rps {num(rps)} x {_split_formula(stack)} x query_s "
                 f"{app.query_ms / 1000:g} = {num(need)} <= {source} = {have}", need <= have),
        have / per_rps if per_rps else None,
    )


def db_reads(stack: Stack, rps: float) -> list[Check]:
    """Reads on the read replicas (issue 12: replicas added no read capacity). Through
    PgBouncer its read-only pool; directly, the pods' pools, at most what the replicas accept."""
    app, pg, pgb = stack.app, stack.postgres, stack.pgbouncer
    _, reads, _ = query_split(stack)
    if not (pg.read_replicas and reads):
        return []
    per_rps = reads * app.query_ms / 1000
    need = rps * per_rps
    if pgb.enabled:
        have = pgb.default_pool_size * pgb.replicas
        source = (f"pgbouncer {pg.database}_ro default_pool_size {pgb.default_pool_size} x pods "
                  f"{pgb.replicas}")
    else:
        pods, said = pool_clients(stack)
        usable = pg.read_replicas * (pg.max_connections - pg.superuser_reserved_connections)
        have = min(pods * app.app_pool_per_pod, usable)
        source = (f"min({said} x app_pool {app.app_pool_per_pod}, replicas {pg.read_replicas} "
                  f"x (max_connections {pg.max_connections} - reserved "
                  f"{pg.superuser_reserved_connections}))")
    return [Check(
        "db_read_connections", "postgres", grade(need, have),
        f"reads in flight on the replicas need {ratio(need, have, 'connections')}",
        compared(f"peak_rps {num(rps)} x queries {app.db_queries_per_request:g} x read_fraction "
                 f"{app.read_fraction:g} x (1 - cache_hit {app.cache_hit_rate:g}) x query_s "
                 f"{app.query_ms / 1000:g} = {num(need)} <= {source} = {have}", need <= have),
        have / per_rps)]


def client_connections(stack: Stack) -> Check:
    app, pg, pgb = stack.app, stack.postgres, stack.pgbouncer
    pods, said = pool_clients(stack)
    clients = pods * app.app_pool_per_pod
    left = f"{said} x app_pool {app.app_pool_per_pod} = {clients}"
    if pgb.enabled:
        limit = pgb.max_client_conn * pgb.replicas
        right = f"pgbouncer max_client_conn {pgb.max_client_conn} x pods {pgb.replicas}"
    else:
        limit = (pg.max_connections - pg.superuser_reserved_connections
                 - pg.monitoring_connections - pg.read_replicas)
        right = (f"max_connections {pg.max_connections} - reserved "
                 f"{pg.superuser_reserved_connections} - monitoring {pg.monitoring_connections}"
                 f" - replication {pg.read_replicas}")
    return Check(
        "client_connections", "pgbouncer" if pgb.enabled else "postgres",
        grade(clients, limit), f"API pools open {ratio(clients, limit, 'client connections')}",
        compared(f"{left} <= {right} = {limit}", clients <= limit),
    )


def postgres_budget(stack: Stack) -> Check:
    pg, pgb = stack.postgres, stack.pgbouncer
    fixed = stack.primary_fixed_connections
    if pgb.enabled:
        # the read-write pool lands on the primary; so does the read-only one until replicas exist
        # (the model refuses a stack over this budget: one formula, Stack's properties)
        n = stack.pgbouncer_primary_pools
        pools = stack.pgbouncer_server_connections
        part = (f"pgbouncer pods {pgb.replicas} x (pool {pgb.default_pool_size} + reserve "
                f"{pgb.reserve_pool_size}) x {n} pool{'s' if n > 1 else ''}")
    else:
        pods, said = pool_clients(stack)
        pools = pods * stack.app.app_pool_per_pod
        part = f"{said} x app_pool {stack.app.app_pool_per_pod}"
    used = pools + fixed
    return Check(
        "postgres_budget", "postgres", grade(used, pg.max_connections),
        f"the primary is asked for {ratio(used, pg.max_connections, 'connections')}",
        compared(f"{part} + replication {pg.read_replicas} + monitoring "
                 f"{pg.monitoring_connections} + superuser_reserved "
                 f"{pg.superuser_reserved_connections} = {used} <= max_connections "
                 f"{pg.max_connections}", used <= pg.max_connections),
    )

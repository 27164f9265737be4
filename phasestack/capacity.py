"""Capacity planner (pure): load target + app profile + topology -> figures and checks.

Every check carries its formula with the numbers filled in, and, where the limit scales with
load, the peak rps at which it is reached, so the planner can name the first component to break
and the number of users at which it breaks (users scale with rps at the target's ratio).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from phasestack.model import Stack

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# A check at more than this share of its limit warns: review 002, Required Metrics, puts the
# critical Redis memory threshold at 80%.
HEADROOM = 0.8
# Redis memory overhead over raw payload bytes (keys, dict entries, allocator fragmentation).
REDIS_OVERHEAD = 1.5
MIB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    component: str
    status: str
    reason: str
    formula: str
    limit_rps: float | None = None  # peak rps at which this check reaches its limit


@dataclass(frozen=True)
class Report:
    stack: str
    phase: str
    users: int
    peak_rps: float
    figures: dict[str, float]
    checks: list[Check] = field(default_factory=list)
    breaks_at: dict | None = None
    # the first load-bound limit as load grows, whatever fails today (capacity claims use it)
    first_limit: dict | None = None

    @property
    def verdict(self) -> str:
        statuses = {c.status for c in self.checks}
        return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS

    def as_dict(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict
        return out


def _grade(used: float, limit: float) -> str:
    if used > limit:
        return FAIL
    return WARN if used > HEADROOM * limit else PASS


def _ratio(used: float, limit: float, unit: str) -> str:
    pct = 100 * used / limit if limit else float("inf")
    return f"{used:,.1f} of {limit:,.1f} {unit} ({pct:.0f}%)"


def plan(stack: Stack, name: str = "") -> Report:
    load, app = stack.load, stack.app
    rps = load.effective_peak_rps
    query_s = app.query_ms / 1000
    figures = {
        "average_rps": round(load.average_rps, 1),
        "peak_rps": round(rps, 1),
        "inflight_requests": round(rps * load.latency_target_ms / 1000, 1),
        "inflight_queries": round(rps * app.db_queries_per_request * query_s, 1),
        "redis_ops_per_s": round(rps * app.redis_ops_per_request, 1),
        "api_pods_min": stack.api.min_pods,
        "api_pods_max": stack.api.max_pods,
    }
    checks = [
        *_api(stack, rps),
        _db_server(stack, rps),
        _client_connections(stack),
        _postgres_budget(stack),
        _redis_memory(stack),
        _redis_ops(stack, rps),
        _nginx_throughput(stack, rps),
        _nginx_rate_limit(stack, rps),
    ]
    limit = _first_limit(checks, load.concurrent_users / rps)
    return Report(name, stack.phase, load.concurrent_users, round(rps, 1), figures, checks,
                  _breaks_at(checks, limit, rps, load.concurrent_users), limit)


def _pool_clients(stack: Stack) -> tuple[int, str]:
    """Pods that open an app pool (API at its ceiling, plus queue workers) and how to say it."""
    workers = sum(w.replicas for w in stack.api.workers)
    pods = stack.api.max_pods + workers
    said = (f"(api pods {stack.api.max_pods} + worker pods {workers})" if workers
            else f"api pods {stack.api.max_pods}")
    return pods, said


def api_capacity_rps(stack: Stack) -> float:
    """The API ceiling: max pods x pod_rps x the HPA's CPU target (pods run at that
    utilisation, not at 100%). The RPS alert keys off it too (synth.thresholds)."""
    return stack.api.max_pods * stack.app.pod_rps * stack.api.hpa.cpu_target / 100


def _api(stack: Stack, rps: float) -> list[Check]:
    api = stack.api
    util = api.hpa.cpu_target / 100
    cap = api_capacity_rps(stack)
    bound = "hpa_max" if api.hpa.enabled else "replicas"
    throughput = Check(
        "api_throughput", "api", _grade(rps, cap),
        f"API pods serve {_ratio(rps, cap, 'rps')}",
        f"peak_rps {rps:,.1f} <= {bound} {api.max_pods} x pod_rps {stack.app.pod_rps:g} x "
        f"target_utilization {util:g} = {cap:,.1f}",
        cap,
    )
    ha_needed = stack.phase != "mvp"
    ok = api.min_pods >= 2
    ha = Check(
        "api_ha", "api", PASS if ok else (FAIL if ha_needed else WARN),
        f"{api.min_pods} API pod(s) at minimum; "
        + ("survives losing one" if ok else "a single pod is a single point of failure"),
        f"min_pods {api.min_pods} >= 2 (required from phase1 on)",
    )
    return [throughput, ha]


def _db_server(stack: Stack, rps: float) -> Check:
    app, pg, pgb = stack.app, stack.postgres, stack.pgbouncer
    per_rps = app.db_queries_per_request * app.query_ms / 1000
    need = rps * per_rps
    if pgb.enabled:
        have = pgb.default_pool_size * pgb.replicas
        source = f"pgbouncer default_pool_size {pgb.default_pool_size} x pods {pgb.replicas}"
    else:
        usable = pg.max_connections - pg.superuser_reserved_connections
        pods, said = _pool_clients(stack)
        have = min(pods * app.app_pool_per_pod, usable)
        source = (f"min({said} x app_pool {app.app_pool_per_pod}, "
                  f"max_connections {pg.max_connections} - reserved "
                  f"{pg.superuser_reserved_connections})")
    return Check(
        "db_server_connections", "postgres", _grade(need, have),
        f"queries in flight need {_ratio(need, have, 'server connections')}",
        f"peak_rps {rps:,.1f} x queries {app.db_queries_per_request:g} x query_s "
        f"{app.query_ms / 1000:g} = {need:,.1f} <= {source} = {have}",
        have / per_rps if per_rps else None,
    )


def _client_connections(stack: Stack) -> Check:
    app, pg, pgb = stack.app, stack.postgres, stack.pgbouncer
    pods, said = _pool_clients(stack)
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
        _grade(clients, limit), f"API pools open {_ratio(clients, limit, 'client connections')}",
        f"{left} <= {right} = {limit}",
    )


def _postgres_budget(stack: Stack) -> Check:
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
        pods, said = _pool_clients(stack)
        pools = pods * stack.app.app_pool_per_pod
        part = f"{said} x app_pool {stack.app.app_pool_per_pod}"
    used = pools + fixed
    return Check(
        "postgres_budget", "postgres", _grade(used, pg.max_connections),
        f"the primary is asked for {_ratio(used, pg.max_connections, 'connections')}",
        f"{part} + replication {pg.read_replicas} + monitoring {pg.monitoring_connections} + "
        f"superuser_reserved {pg.superuser_reserved_connections} = {used} <= max_connections "
        f"{pg.max_connections}",
    )


def _redis_memory(stack: Stack) -> Check:
    app, redis, users = stack.app, stack.redis, stack.load.concurrent_users
    per_user = (app.session_bytes + app.rate_limit_key_bytes) * REDIS_OVERHEAD / MIB
    need = users * per_user
    have = redis.maxmemory_mb * redis.masters * HEADROOM
    max_users = have / per_user if per_user else None
    return Check(
        "redis_memory", "redis", FAIL if need > have else PASS,
        f"sessions and rate-limit keys take {_ratio(need, have, 'MiB')} of the alert line",
        f"users {users:,} x (session {app.session_bytes} + rate_limit_key "
        f"{app.rate_limit_key_bytes}) B x overhead {REDIS_OVERHEAD} = {need:,.1f} MiB <= "
        f"maxmemory {redis.maxmemory_mb} MiB x masters {redis.masters} x {HEADROOM} = "
        f"{have:,.1f} MiB",
        max_users * stack.load.effective_peak_rps / users if max_users else None,
    )


def _redis_ops(stack: Stack, rps: float) -> Check:
    ops = stack.app.redis_ops_per_request
    need, have = rps * ops, stack.redis.ops_per_master * stack.redis.masters
    return Check(
        "redis_ops", "redis", _grade(need, have), f"Redis serves {_ratio(need, have, 'ops/s')}",
        f"peak_rps {rps:,.1f} x redis_ops {ops:g} = {need:,.1f} <= ops_per_master "
        f"{stack.redis.ops_per_master:,.0f} x masters {stack.redis.masters} = {have:,.0f}",
        have / ops if ops else None,
    )


def _nginx_throughput(stack: Stack, rps: float) -> Check:
    ngx = stack.nginx
    have = ngx.max_pods * ngx.rps_per_replica
    return Check(
        "nginx_throughput", "nginx", _grade(rps, have), f"nginx proxies {_ratio(rps, have, 'rps')}",
        f"peak_rps {rps:,.1f} <= nginx pods {ngx.max_pods} x rps_per_replica "
        f"{ngx.rps_per_replica:,.0f} = {have:,.0f}",
        have,
    )


def _nginx_rate_limit(stack: Stack, rps: float) -> Check:
    ngx, users = stack.nginx, stack.load.concurrent_users
    per_user = rps / users * 60
    effective = ngx.rate_limit_per_minute * ngx.max_pods
    return Check(
        "nginx_rate_limit", "nginx", _grade(per_user, ngx.rate_limit_per_minute),
        f"a user at peak sends {per_user:.1f}/min against a limit of "
        f"{ngx.rate_limit_per_minute}/min per IP per nginx pod (up to {effective}/min across "
        f"{ngx.max_pods} pods: limit_req is per replica)",
        f"peak_rps {rps:,.1f} / users {users:,} x 60 = {per_user:.1f} <= rate_limit_per_minute "
        f"{ngx.rate_limit_per_minute}",
    )


# What to do when a check fails, by check (the verdict's advice)
REMEDY = {
    "api_throughput": "raise api.hpa.max_replicas or measure a higher app.pod_rps",
    "api_ha": "run at least 2 API pods",
    "db_server_connections": "raise the PgBouncer pool (pgbouncer.default_pool_size x pods) "
                             "or cut query time",
    "client_connections": "add PgBouncer (pgbouncer.enabled) or raise max_client_conn x pods",
    "postgres_budget": "lower the pools or raise postgres.max_connections",
    "redis_memory": "raise redis.maxmemory_mb or add Cluster masters",
    "redis_ops": "add Redis Cluster masters",
    "nginx_throughput": "add nginx replicas (or its HPA)",
    "nginx_rate_limit": "raise nginx.rate_limit_per_minute: legitimate users hit it",
}


def _break(check: Check, at_rps: float, users_per_rps: float, now: bool) -> dict:
    return {"check": check.name, "component": check.component, "peak_rps": round(at_rps, 1),
            "users": int(at_rps * users_per_rps), "now": now,
            "remedy": REMEDY.get(check.name, "")}


def _first_limit(checks: list[Check], users_per_rps: float) -> dict | None:
    scaled = [c for c in checks if c.limit_rps is not None]
    if not scaled:
        return None
    first = min(scaled, key=lambda c: c.limit_rps)
    return _break(first, first.limit_rps, users_per_rps, now=False)


def _breaks_at(checks: list[Check], first_limit: dict | None, rps: float,
               users: int) -> dict | None:
    """The first check to break. One that FAILs at the stack's own load has already broken
    and comes first (issue 12: plan named the API while a connection check failed): a
    load-bound one at its limit, one that does not scale with load at today's load."""
    failing = [c for c in checks if c.status == FAIL]
    if not failing:
        return first_limit
    first = min(failing, key=lambda c: c.limit_rps if c.limit_rps is not None else rps)
    at = first.limit_rps if first.limit_rps is not None else rps
    return _break(first, at, users / rps, now=True)

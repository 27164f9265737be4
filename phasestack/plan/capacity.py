"""Capacity planner (pure): load target + app profile + topology -> figures and checks.

Every check carries its formula with the numbers filled in, and, where the limit scales with
load, the peak rps at which it is reached, so the planner can name the first component to break
and the number of users at which it breaks (users scale with rps at the target's ratio).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from phasestack.model import Stack
from phasestack.plan import recovery
from phasestack.plan.cache import redis_eviction, redis_memory, redis_ops
from phasestack.plan.checks import (  # noqa: F401 - Check and grades re-exported
    FAIL,
    HEADROOM,
    PASS,
    WARN,
    Check,
    client_connections,
    compared,
    db_reads,
    db_server,
    grade,
    keep,
    num,
    pool_clients,
    postgres_budget,
    ratio,
)


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
    # which alert guards which limit (plan.alerts.guards; `phasestack plan` fills it)
    alerts: list[dict] = field(default_factory=list)
    # what survives what (plan.recovery), apart from the capacity verdict
    recovery: list[Check] = field(default_factory=list)
    # measured figures in place of defaults (`plan --calibration`): file, machine, taken
    calibration: dict | None = None

    @property
    def verdict(self) -> str:
        statuses = {c.status for c in self.checks}
        return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS

    def as_dict(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict
        return out


def plan(stack: Stack, name: str = "") -> Report:
    load, app = stack.load, stack.app
    rps = load.effective_peak_rps
    query_s = app.query_ms / 1000
    figures = {
        "average_rps": keep(load.average_rps),
        "peak_rps": keep(rps),
        "inflight_requests": keep(rps * load.latency_target_ms / 1000),
        "inflight_queries": keep(rps * app.db_queries_per_request * query_s),
        **({"redis_ops_per_s": keep(rps * app.redis_ops_per_request)}
           if stack.has("redis") else {}),
        "api_pods_min": stack.api.min_pods,
        "api_pods_max": stack.api.max_pods,
    }
    checks = [
        *_api(stack, rps),
        db_server(stack, rps),
        *db_reads(stack, rps),
        client_connections(stack),
        postgres_budget(stack),
        # no Redis or nginx, nothing of theirs to check
        *((redis_memory(stack), redis_ops(stack, rps), redis_eviction(stack))
          if stack.has("redis") else ()),
        *((_nginx_throughput(stack, rps), _nginx_rate_limit(stack, rps))
          if stack.has("nginx") else ()),
    ]
    limit = _first_limit(checks, load.concurrent_users / rps)
    return Report(name, stack.phase, load.concurrent_users, keep(rps), figures, checks,
                  _breaks_at(checks, limit, rps, load.concurrent_users), limit,
                  recovery=recovery.checks(stack))


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
        "api_throughput", "api", grade(rps, cap),
        f"API pods serve {ratio(rps, cap, 'rps')}",
        compared(f"peak_rps {num(rps)} <= {bound} {api.max_pods} x pod_rps "
                 f"{stack.app.pod_rps:g} x target_utilization {util:g} = {num(cap)}", rps <= cap),
        cap,
    )
    ha_needed = stack.phase != "mvp"
    ok = api.min_pods >= 2
    ha = Check(
        "api_ha", "api", PASS if ok else (FAIL if ha_needed else WARN),
        f"{api.min_pods} API pod(s) at minimum; "
        + ("survives losing one" if ok else "a single pod is a single point of failure"),
        compared(f"min_pods {api.min_pods} >= 2", ok) + " (required from phase1 on)",
    )
    return [throughput, ha]


def _nginx_throughput(stack: Stack, rps: float) -> Check:
    ngx = stack.nginx
    have = ngx.max_pods * ngx.rps_per_replica
    return Check(
        "nginx_throughput", "nginx", grade(rps, have), f"nginx proxies {ratio(rps, have, 'rps')}",
        compared(f"peak_rps {num(rps)} <= nginx pods {ngx.max_pods} x rps_per_replica "
                 f"{ngx.rps_per_replica:,.0f} = {have:,.0f}", rps <= have),
        have,
    )


def _nginx_rate_limit(stack: Stack, rps: float) -> Check:
    ngx, users = stack.nginx, stack.load.concurrent_users
    per_user = rps / users * 60
    effective = ngx.rate_limit_per_minute * ngx.max_pods
    return Check(
        "nginx_rate_limit", "nginx", grade(per_user, ngx.rate_limit_per_minute),
        f"a user at peak sends {num(per_user)}/min against a limit of "
        f"{ngx.rate_limit_per_minute}/min per IP per nginx pod (up to {effective}/min across "
        f"{ngx.max_pods} pods: limit_req is per replica)",
        compared(f"peak_rps {num(rps)} / users {users:,} x 60 = {num(per_user)} <= "
                 f"rate_limit_per_minute {ngx.rate_limit_per_minute}",
                 per_user <= ngx.rate_limit_per_minute),
    )


# What to do when a check fails, by check (the verdict's advice)
REMEDY = {
    "api_throughput": "raise api.hpa.max_replicas or measure a higher app.pod_rps",
    "api_ha": "run at least 2 API pods",
    "db_server_connections": "raise the PgBouncer pool (pgbouncer.default_pool_size x pods) "
                             "or cut query time",
    "db_read_connections": "raise the read pool or add read replicas, or cache more reads",
    "client_connections": "add PgBouncer (pgbouncer.enabled) or raise max_client_conn x pods",
    "postgres_budget": "lower the pools or raise postgres.max_connections",
    "redis_memory": "raise redis.maxmemory_mb or add Cluster masters",
    "redis_ops": "add Redis Cluster masters",
    "redis_eviction": "set redis.maxmemory_policy: noeviction, or keep a cache in its own Redis",
    "nginx_throughput": "add nginx replicas (or its HPA)",
    "nginx_rate_limit": "raise nginx.rate_limit_per_minute: legitimate users hit it",
}


def _break(check: Check, at_rps: float, users_per_rps: float, now: bool) -> dict:
    return {"check": check.name, "component": check.component, "peak_rps": keep(at_rps),
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

"""Capacity checks of Redis (pure): memory against maxmemory, operations, eviction."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.plan.checks import (
    FAIL,
    HEADROOM,
    PASS,
    WARN,
    Check,
    compared,
    grade,
    num,
    query_split,
    ratio,
)

# Redis memory overhead over raw payload bytes (keys, dict entries, allocator fragmentation).
REDIS_OVERHEAD = 1.5
MIB = 1024 * 1024


def redis_memory(stack: Stack) -> Check:
    app, redis, users = stack.app, stack.redis, stack.load.concurrent_users
    per_user = (app.session_bytes + app.rate_limit_key_bytes) * REDIS_OVERHEAD / MIB
    need = users * per_user
    have = redis.maxmemory_mb * redis.masters * HEADROOM
    max_users = have / per_user if per_user else None
    return Check(
        "redis_memory", "redis", FAIL if need > have else PASS,
        f"sessions and rate-limit keys take {ratio(need, have, 'MiB')} of the alert line",
        compared(f"users {users:,} x (session {app.session_bytes} + rate_limit_key "
                 f"{app.rate_limit_key_bytes}) B x overhead {REDIS_OVERHEAD} = {num(need)} MiB "
                 f"<= maxmemory {redis.maxmemory_mb} MiB x masters {redis.masters} x "
                 f"{HEADROOM} = {num(have)} MiB", need <= have),
        max_users * stack.load.effective_peak_rps / users if max_users else None,
    )


def redis_ops(stack: Stack, rps: float) -> Check:
    _, _, cached = query_split(stack)
    ops = stack.app.redis_ops_per_request + cached
    said = (f"(redis_ops {stack.app.redis_ops_per_request:g} + cache hits {cached:g})"
            if cached else f"redis_ops {ops:g}")
    need, have = rps * ops, stack.redis.ops_per_master * stack.redis.masters
    return Check(
        "redis_ops", "redis", grade(need, have), f"Redis serves {ratio(need, have, 'ops/s')}",
        compared(f"peak_rps {num(rps)} x {said} = {num(need)} <= ops_per_master "
                 f"{stack.redis.ops_per_master:,.0f} x masters {stack.redis.masters} = "
                 f"{have:,.0f}", need <= have),
        have / ops if ops else None,
    )


def redis_eviction(stack: Stack) -> Check:
    """Review 002 (002_f99052a1f9a0162e.txt), section 3: allkeys-lru "may evict active
    sessions"; a queue job evicted from Redis is lost. noeviction refuses writes instead."""
    r, workers = stack.redis, stack.api.workers
    policy = r.maxmemory_policy
    if policy == "noeviction":
        return Check("redis_eviction", "redis", PASS,
                     "a full Redis refuses writes: no session or queue job is dropped",
                     "maxmemory_policy noeviction")
    victims = "any key" if policy.startswith("allkeys-") else "any key with a TTL (sessions)"
    held = "sessions" + (f" and the jobs of {len(workers)} queue worker(s)" if workers else "")
    return Check(
        "redis_eviction", "redis", WARN,
        f"redis.maxmemory_policy {policy} may evict {held} when maxmemory is reached "
        "(review 002 warns it may evict active sessions; an evicted queue job is lost)",
        f"maxmemory_policy {policy} evicts {victims} at maxmemory {r.maxmemory_mb} MiB; this "
        f"Redis holds {held}")

"""Planner on hand-computed cases."""

from pathlib import Path

import pytest

from phasestack.model import Stack
from phasestack.phases import PRESETS
from phasestack.plan import capacity
from phasestack.plan.capacity import FAIL, PASS, WARN, plan
from phasestack.plan.report import table
from phasestack.stackfile import load

ROOT = Path(__file__).parents[2]


def preset_stack(phase: str, **update) -> Stack:
    return Stack.model_validate({**PRESETS[phase], "phase": phase, **update})


def checks(report):
    return {c.name: c for c in report.checks}


@pytest.mark.parametrize("phase", ["mvp", "phase1", "phase2", "phase3"])
def test_generic_phase_stacks_pass_their_own_target(phase, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = plan(load(phase).stack, phase)
    assert report.verdict == PASS, [c for c in report.checks if c.status != PASS]


def test_api_throughput_formula_phase2():
    c = checks(plan(preset_stack("phase2")))["api_throughput"]
    # 20 pods x 100 rps x 0.7 = 1,400 rps against 833 peak
    assert c.status == PASS
    assert c.limit_rps == 1400
    assert c.formula == ("peak_rps 833.0 <= hpa_max 20 x pod_rps 100 x target_utilization 0.7 = "
                         "1,400.0")


def test_db_server_connections_little_law_phase3():
    c = checks(plan(preset_stack("phase3")))["db_server_connections"]
    # 1,666 rps x 2 queries x 0.010 s = 33.3 in flight, against 25 x 3 = 75 pooled
    assert c.status == PASS
    assert "= 33.3 <= pgbouncer default_pool_size 25 x pods 3 = 75" in c.formula
    assert c.limit_rps == pytest.approx(75 / 0.02)


def test_review_002_twenty_connection_pool_fails_at_100k():
    # review 002, Connection & Pooling Analysis: 1 API instance, PostgreSQL pool 20, no
    # PgBouncer, against its 100k-in-60s burst (1,666 rps)
    original = preset_stack(
        "phase3", api={"replicas": 1, "hpa": {"enabled": False}}, pgbouncer={"enabled": False},
        app={"app_pool_per_pod": 20})
    report = plan(original)
    c = checks(report)["db_server_connections"]
    assert c.status == FAIL
    assert c.formula == ("peak_rps 1,666.0 x queries 2 x query_s 0.01 = 33.3 <= min(api pods 1 x "
                         "app_pool 20, max_connections 200 - reserved 3) = 20: false")
    assert report.verdict == FAIL
    # the single API pod goes first (1 x 100 x 0.7 = 70 rps), the 20 connections at 1,000 rps;
    # both fail today, so plan says it has already broken, at the API's limit
    assert report.breaks_at == {"check": "api_throughput", "component": "api",
                                "peak_rps": 70.0, "users": 4_201, "now": True,
                                "remedy": capacity.REMEDY["api_throughput"]}
    assert c.limit_rps == 1000


def test_scaled_out_pools_without_pgbouncer_exhaust_max_connections():
    report = plan(preset_stack("phase3", pgbouncer={"enabled": False}))
    c = checks(report)["client_connections"]
    assert c.status == FAIL
    assert c.formula.startswith("api pods 40 x app_pool 20 = 800 <= max_connections 200")


def test_queue_workers_open_pools_too():
    # reviews 000/001/003 run workers beside the API; their pools count against the pooler.
    # The phase1 preset's HPA stays (the preset is merged under the section, as in a stack
    # file): 6 API pods at its ceiling
    s = preset_stack("phase1", api={"workers": [{"name": "jobs", "replicas": 4}]})
    c = checks(plan(s))["client_connections"]
    assert c.formula == ("(api pods 6 + worker pods 4) x app_pool 20 = 200 <= pgbouncer "
                         "max_client_conn 200 x pods 2 = 400")


def test_warn_inside_headroom():
    # 84 rps of capacity, 72.9 peak = 87% -> WARN
    report = plan(preset_stack("mvp", app={"pod_rps": 60}))
    assert checks(report)["api_throughput"].status == WARN


def test_ha_required_from_phase1():
    c = checks(plan(preset_stack("phase1", api={"hpa": {"enabled": False}, "replicas": 1})))
    assert c["api_ha"].status == FAIL
    c = checks(plan(preset_stack("mvp", api={"replicas": 1})))
    assert c["api_ha"].status == WARN


def test_redis_memory_against_eighty_percent():
    # 100k users x (2048 + 1024) B x 1.5 = 439.5 MiB; 256 MiB x 1 x 0.8 = 204.8 MiB -> FAIL
    report = plan(preset_stack("phase1", load={"concurrent_users": 100_000},
                               redis={"maxmemory_mb": 256}))
    c = checks(report)["redis_memory"]
    assert c.status == FAIL
    assert "= 439.5 MiB <= maxmemory 256 MiB x masters 1 x 0.8 = 204.8 MiB" in c.formula


def test_rate_limit_is_per_replica():
    c = checks(plan(preset_stack("phase3")))["nginx_rate_limit"]
    assert "up to 1800/min across 6 pods" in c.reason
    # review 000's original 100/min limit with users sending 150/min fails
    tight = preset_stack("phase1", load={"concurrent_users": 100, "peak_rps": 250},
                         nginx={"rate_limit_per_minute": 100})
    assert checks(plan(tight))["nginx_rate_limit"].status == FAIL


def test_first_to_break_phase1():
    report = plan(preset_stack("phase1"))
    # API: 6 x 100 x 0.7 = 420 rps; 10,000 users / 250 rps x 420 = 16,800 users
    assert report.breaks_at == {"check": "api_throughput", "component": "api",
                                "peak_rps": 420.0, "users": 16_800, "now": False,
                                "remedy": capacity.REMEDY["api_throughput"]}
    assert report.first_limit == report.breaks_at


def test_a_check_failing_today_breaks_first_not_the_next_limit():
    """Issue 12: with client connections already over PgBouncer's limit, plan named the API
    (at 2,100 rps) as first to break. A check that does not scale with load and fails today
    is what breaks first, at today's load, with what to do."""
    stack = preset_stack("phase1", app={"app_pool_per_pod": 100})  # 6 x 100 > 200 x 2
    report = plan(stack)
    assert checks(report)["client_connections"].status == FAIL
    assert report.breaks_at == {"check": "client_connections", "component": "pgbouncer",
                                "peak_rps": 250.0, "users": 10_000, "now": True,
                                "remedy": capacity.REMEDY["client_connections"]}
    assert report.first_limit["check"] == "api_throughput"  # still the next load limit
    text = table(report)
    assert ("already broken: pgbouncer (client_connections) at this stack's own 250.0 peak rps "
            "~ 10,000 users; add PgBouncer (pgbouncer.enabled) or raise max_client_conn x "
            "pods") in text


def test_postgres_budget_counts_the_read_only_pool_until_replicas_exist():
    # phase1: no replicas, so <db>_ro is served by the primary as well
    c = checks(plan(preset_stack("phase1")))["postgres_budget"]
    assert c.formula.startswith("pgbouncer pods 2 x (pool 25 + reserve 5) x 2 pools + "
                                "replication 0 + monitoring 2 + superuser_reserved 3 = 125")
    c = checks(plan(preset_stack("phase3")))["postgres_budget"]
    assert c.formula.startswith("pgbouncer pods 3 x (pool 25 + reserve 5) x 1 pool + "
                                "replication 3 + monitoring 2 + superuser_reserved 3 = 98")


def test_eviction_policy_that_can_drop_sessions_or_jobs_warns():
    """Issue 12 item 8: allkeys-lru on the Redis that holds sessions and queue jobs planned PASS."""
    base = load("brivara-phase1").stack
    assert len(base.api.workers) == 1
    assert checks(plan(base))["redis_eviction"].status == PASS
    lru = base.model_copy(update={"redis": base.redis.model_copy(
        update={"maxmemory_policy": "allkeys-lru"})})
    c = checks(plan(lru))["redis_eviction"]
    assert (c.status, c.component) == (WARN, "redis")
    held = "sessions and the jobs of 1 queue worker(s)"
    assert c.reason == (f"redis.maxmemory_policy allkeys-lru may evict {held} when maxmemory is "
                        "reached (review 002 warns it may evict active sessions; an evicted "
                        "queue job is lost)")
    assert c.formula == (f"maxmemory_policy allkeys-lru evicts any key at maxmemory "
                         f"{base.redis.maxmemory_mb} MiB; this Redis holds {held}")
    assert plan(lru).verdict == WARN
    ttl = base.model_copy(update={"redis": base.redis.model_copy(
        update={"maxmemory_policy": "volatile-lru"})})
    assert "any key with a TTL (sessions)" in checks(plan(ttl))["redis_eviction"].formula



def test_messages_never_look_like_a_pass():
    """Issue 12 item 12: 201 of 200 printed "(100%)", `min_pods 1 >= 2` a false inequality,
    0.033 rps "0.0"."""
    from phasestack.plan.checks import num, ratio
    assert ratio(201, 200, "connections") == "201.0 of 200.0 connections (100.5%)"
    assert ratio(200.04, 200, "x") == "200.0 of 200.0 x (>100%)"
    assert ratio(199, 200, "x") == "199.0 of 200.0 x (100%)"
    assert num(0.0333) == "0.033" and num(0) == "0.0" and num(1234.56) == "1,234.6"
    single = preset_stack("phase1", api={"replicas": 1, "hpa": {"enabled": False}})
    ha = checks(plan(single))["api_ha"]
    assert (ha.status, ha.formula) == (FAIL, "min_pods 1 >= 2: false (required from phase1 on)")
    tiny = preset_stack("mvp", load={"concurrent_users": 1, "peak_rps": 0.033})
    report = plan(tiny)
    assert report.peak_rps == 0.033 and "0.033 peak rps" in table(report)


def test_reads_on_replicas_and_cache_hits_change_the_numbers():
    """Issue 12 item 9: read replicas added no read capacity and caching changed nothing."""
    base = preset_stack("phase2")  # 833 peak rps, 1 read replica, PgBouncer 2 x 50
    assert "db_read_connections" not in checks(plan(base))  # read_fraction 0: all on primary
    split = preset_stack("phase2", app={"read_fraction": 0.75})
    c = checks(plan(split))
    assert c["db_server_connections"].formula == (
        "peak_rps 833.0 x queries 2 x (1 - read_fraction 0.75) = 0.5 on the primary x query_s "
        "0.01 = 4.2 <= pgbouncer default_pool_size 50 x pods 2 = 100")
    assert c["db_read_connections"].formula == (
        "peak_rps 833.0 x queries 2 x read_fraction 0.75 x (1 - cache_hit 0) x query_s 0.01 = "
        "12.5 <= pgbouncer app_ro default_pool_size 50 x pods 2 = 100")
    assert c["db_read_connections"].limit_rps == pytest.approx(100 / 0.015)
    cached = checks(plan(preset_stack("phase2", app={"read_fraction": 0.75,
                                                      "cache_hit_rate": 0.5})))
    assert "= 6.2 <=" in cached["db_read_connections"].formula
    assert cached["redis_ops"].formula.startswith(
        "peak_rps 833.0 x (redis_ops 5 + cache hits 0.75) = 4,789.8 <= ops_per_master")
    # without replicas the read URL is the primary: uncached reads stay there
    mvp = checks(plan(preset_stack("mvp", app={"read_fraction": 0.5, "cache_hit_rate": 0.5})))
    assert "db_read_connections" not in mvp
    assert "queries 2 x (1 - read_fraction 0.5) + reads 0.5 x (1 - cache_hit 0.5) = 1.5 on " \
           "the primary" in mvp["db_server_connections"].formula

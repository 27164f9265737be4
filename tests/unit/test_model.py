"""Model defaults and every validator message."""

import pytest
from pydantic import ValidationError

from phasestack.model import (
    Api,
    Hpa,
    LoadTarget,
    Monitoring,
    Nginx,
    PgBouncer,
    Postgres,
    Redis,
    Resources,
    Stack,
)
from phasestack.phases import PRESETS
from phasestack.synth import nginx


def message(exc: pytest.ExceptionInfo) -> str:
    return exc.value.errors()[0]["msg"].removeprefix("Value error, ")


def test_defaults():
    s = Stack()
    assert s.phase == "mvp" and s.target == "kubernetes"
    assert s.redis.maxmemory_policy == "noeviction"  # never evicts live sessions (review 002)
    assert s.redis.maxmemory_mb == 2048
    assert (s.postgres.statement_timeout_s, s.postgres.lock_timeout_s) == (30, 5)
    assert (s.pgbouncer.pool_mode, s.pgbouncer.max_client_conn, s.pgbouncer.default_pool_size,
            s.pgbouncer.min_pool_size) == ("transaction", 200, 25, 5)
    assert (s.nginx.rate_limit_per_minute, s.nginx.auth_rate_limit_per_minute) == (300, 10)
    assert s.api.hpa.cpu_target == 70


def test_every_field_documented():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            ann = field.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)
    walk(Stack)


def test_frozen_and_forbids_extra():
    with pytest.raises(ValidationError):
        Stack().api.replicas = 3  # type: ignore[misc]
    with pytest.raises(ValidationError) as exc:
        Api(replica=3)
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


def test_peak_from_requests_per_day():
    # review 000: 7M/day = 81 avg; x3 = 243 peak
    load = LoadTarget(requests_per_day=7_000_000, peak_factor=3)
    assert round(load.average_rps, 1) == 81.0
    assert round(load.effective_peak_rps, 1) == 243.1
    assert LoadTarget(peak_rps=250).effective_peak_rps == 250
    # a stated peak alone implies its average; a stated daily volume wins
    assert LoadTarget(peak_rps=833, peak_factor=3).average_rps == pytest.approx(277.7, abs=0.1)
    assert LoadTarget(peak_rps=250, requests_per_day=7_000_000).average_rps == pytest.approx(81.0,
                                                                                          abs=0.1)


@pytest.mark.parametrize("build, expected", [
    (lambda: Hpa(min_replicas=5, max_replicas=3), "min_replicas (5) must be <= max_replicas (3)"),
    (lambda: Redis(mode="cluster", masters=2), "Redis Cluster needs at least 3 masters, got 2"),
    (lambda: Redis(mode="standalone", masters=3), "standalone Redis has exactly 1 master, got 3"),
    (lambda: Postgres(max_connections=10, superuser_reserved_connections=10),
     "superuser_reserved_connections (10) must be < max_connections (10)"),
    (lambda: PgBouncer(default_pool_size=4, min_pool_size=5),
     "min_pool_size (5) must be <= default_pool_size (4)"),
    (lambda: Monitoring(prometheus=False, alerts=True), "grafana and alerts need prometheus: true"),
    (lambda: Monitoring(scrape_interval="2m"),
     "scrape_interval 2m must be between 1s and 60s: the alert rules rate over 2m, which needs "
     "two samples"),
    (lambda: Monitoring(scrape_interval="60s"), None),
    (lambda: Stack(pgbouncer={"enabled": True, "replicas": 10}),
     "pgbouncer: server connections 10 x (25 + 5) x 2 pool(s) on the primary = 600, + "
     "replication 0 + monitoring 2 + superuser_reserved 3 = 605 exceed postgres "
     "max_connections 200"),
    (lambda: Stack(pgbouncer={"enabled": True, "replicas": 4}, postgres={"read_replicas": 1}),
     None),  # 4 x 30 x 1 pool = 120: the read-only pool goes to the replica
    (lambda: Redis(mode="cluster", masters=3, replicas_per_master=0),
     "Redis Cluster needs replicas_per_master >= 1: without a replica, losing one master takes "
     "its slots and the whole cluster down"),
    (lambda: Redis(mode="cluster", masters=3, replicas_per_master=1, image="redis:7.0-alpine"),
     "image redis:7.0-alpine: Redis Cluster pods announce their Kubernetes node "
     "(cluster-announce-human-nodename, which keeps a replica off its master's node); it needs "
     "Redis 7.2 or newer, or Valkey"),
    (lambda: Redis(mode="cluster", masters=3, replicas_per_master=1,
                   image="docker.io/library/redis:7.4.2-alpine"), None),
    (lambda: Redis(image="redis:7.0-alpine"), None),  # standalone announces nothing
    (lambda: Redis(maxmemory_mb=4096),
     "maxmemory_mb (4096) must be <= 80% of resources.memory_limit (2560Mi = 2,560 MiB)"),
    (lambda: Postgres(app_user="replicator"),
     "app_user 'replicator' is a role phasestack creates itself; choose another name"),
    (lambda: Stack(namespace="kube-system"),
     "'kube-system' is a system namespace; a stack needs one of its own"),
    (lambda: Api(workers=[{"name": "mail"}, {"name": "mail"}]),
     "worker names must be unique: mail given twice"),
    (lambda: Nginx(trusted_proxies=["0.0.0.0/0"]),
     "'0.0.0.0/0' trusts every address; name the proxies' ranges"),
    (lambda: Nginx(trusted_proxies=["10.0.0.0/8; include /etc/passwd"]),
     "'10.0.0.0/8; include /etc/passwd' is not an IP address or CIDR (no zone ids, "
     "spaces or other characters)"),
    (lambda: Resources(cpu_request="2", cpu_limit="500m"),
     "cpu_request (2) must be <= cpu_limit (500m)"),
    (lambda: Resources(memory_request="1Gi", memory_limit="512Mi"),
     "memory_request (1Gi) must be <= memory_limit (512Mi)"),
    (lambda: Stack(target="docker",
                   redis={"mode": "cluster", "masters": 3, "replicas_per_master": 1}),
     "target: docker renders the MVP shape; this stack also has: redis cluster (use target: "
     "kubernetes)"),
    (lambda: Stack(target="docker", pgbouncer={"enabled": True}, monitoring={"grafana": True}),
     "target: docker renders the MVP shape; this stack also has: pgbouncer, grafana (use "
     "target: kubernetes)"),
])
def test_validator_messages(build, expected):
    if expected is None:
        build()
        return
    with pytest.raises(ValidationError) as exc:
        build()
    assert message(exc) == expected


@pytest.mark.parametrize("build, field", [
    (lambda: Nginx(auth_path="/auth/ { return 200; } location /x"), "auth_path"),
    (lambda: Resources(cpu_request="banana"), "cpu_request"),
    (lambda: Resources(memory_limit="-5"), "memory_limit"),
    (lambda: LoadTarget(peak_rps=float("inf")), "peak_rps"),
    (lambda: LoadTarget(peak_rps=1e-320), "peak_rps"),
    (lambda: LoadTarget(concurrent_users=10**400), "concurrent_users"),
    (lambda: Api(replicas=10**20), "replicas"),
])
def test_out_of_range_and_injection_refused(build, field):
    with pytest.raises(ValidationError) as exc:
        build()
    assert exc.value.errors()[0]["loc"][-1] == field


def test_presets_are_valid_and_cited():
    for phase, data in PRESETS.items():
        assert Stack.model_validate({**data, "phase": phase}).phase == phase


def test_phase_matrix_numbers():
    p = {k: Stack.model_validate({**v, "phase": k}) for k, v in PRESETS.items()}
    assert (p["mvp"].api.replicas, p["mvp"].api.hpa.enabled) == (2, False)
    assert [(s.api.hpa.min_replicas, s.api.hpa.max_replicas) for s in
            (p["phase1"], p["phase2"], p["phase3"])] == [(2, 6), (3, 20), (10, 40)]
    # nginx pods: fixed 1, 2, 2, then the HPA's 3-6 (no replicas the HPA would ignore)
    assert [nginx.replicas(s) for s in p.values()] == [1, 2, 2, 3]
    assert p["phase3"].nginx.hpa.enabled and p["phase3"].nginx.max_pods == 6
    assert [(s.redis.mode, s.redis.masters, s.redis.replicas_per_master) for s in p.values()] == [
        ("standalone", 1, 0), ("standalone", 1, 0), ("cluster", 3, 1), ("cluster", 6, 1)]
    assert [s.postgres.read_replicas for s in p.values()] == [0, 0, 1, 3]
    assert [s.pgbouncer.enabled for s in p.values()] == [False, True, True, True]
    # review 002: phase 2 PgBouncer "100 connections"
    assert p["phase2"].pgbouncer.default_pool_size * p["phase2"].pgbouncer.replicas == 100
    assert p["phase1"].monitoring.grafana and not p["mvp"].monitoring.grafana
    assert p["phase3"].load.effective_peak_rps == 1666


def test_standalone_redis_with_replicas_is_refused():
    with pytest.raises(ValidationError) as err:
        Stack.model_validate({"redis": {"mode": "standalone", "replicas_per_master": 1}})
    assert err.value.errors()[0]["msg"] == (
        "Value error, standalone Redis runs one server: replicas_per_master 1 would start 2 "
        "unsynchronised masters behind one Service; use mode: cluster for replicas (with "
        "failover), or replicas_per_master: 0")


def test_validate_and_plan_share_the_primary_connection_budget():
    """Issue 12: validate allowed 201 of 200 that plan then failed. 195 + 2 + 3 = 200 passes
    both; one more server connection is refused by the model, naming the whole formula."""
    from phasestack.plan import capacity

    fits = Stack(pgbouncer={"enabled": True, "replicas": 1, "default_pool_size": 95,
                            "reserve_pool_size": 2, "min_pool_size": 5},
                 postgres={"read_replicas": 0})
    assert fits.pgbouncer_server_connections + fits.primary_fixed_connections == 199
    budget = next(c for c in capacity.plan(fits).checks if c.name == "postgres_budget")
    assert budget.status != capacity.FAIL
    with pytest.raises(ValidationError) as err:
        Stack(pgbouncer={"enabled": True, "replicas": 1, "default_pool_size": 96,
                         "reserve_pool_size": 3, "min_pool_size": 5})
    assert "= 203 exceed postgres max_connections 200" in str(err.value)


def test_replicas_with_an_hpa_is_refused_not_dropped():
    """Issue 12 item 6: api.replicas vanished when a preset enabled the HPA."""
    from phasestack.phases import preset
    from phasestack.stackfile import deep_merge
    with pytest.raises(ValidationError) as e:
        Stack.model_validate(deep_merge(preset("phase1"), {"phase": "phase1",
                                                           "api": {"replicas": 4}}))
    assert "api.replicas: 4 has no effect while api.hpa.enabled is true (the phase1 preset " \
           "turns it on): the HPA sets the pod count; set api.hpa.min_replicas and " \
           "max_replicas instead, or api.hpa.enabled: false" in str(e.value)
    with pytest.raises(ValidationError) as e:
        Stack.model_validate({"phase": "mvp", "nginx": {"replicas": 2, "hpa": {"enabled": True}}})
    assert "nginx.replicas: 2 has no effect while nginx.hpa.enabled is true: the HPA" in \
        str(e.value)
    # without the HPA, or without replicas, nothing to refuse
    Stack.model_validate(deep_merge(preset("phase1"), {
        "phase": "phase1", "api": {"replicas": 2, "hpa": {"enabled": False}}}))
    phase3 = Stack.model_validate(deep_merge(preset("phase3"), {"phase": "phase3"}))
    # a stack dumped and validated again still loads (the default is not a setting)
    assert Stack.model_validate(phase3.model_dump()) == phase3


def test_error_rate_levels_must_be_ordered():
    with pytest.raises(ValidationError) as e:
        Stack.model_validate({"monitoring": {"error_rate_warning": 0.05,
                                             "error_rate_critical": 0.01}})
    assert "error_rate_warning 0.05 must be below error_rate_critical 0.01" in str(e.value)


@pytest.mark.parametrize("phase", ["mvp", "phase1", "phase2", "phase3"])
def test_stack_in_code_gets_the_preset_as_a_stack_file_does(phase, tmp_path):
    """Issue 13: Stack(phase="phase2") silently had the MVP shape; presets applied only
    through the stack-file loader."""
    from phasestack.stackfile import load

    f = tmp_path / f"Pulumi.{phase}-only.yaml"
    f.write_text(f"config:\n  phasestack:phase: {phase}\n  phasestack:namespace: ns\n")
    assert Stack(phase=phase, namespace="ns") == load(str(f)).stack


def test_given_values_win_over_the_preset():
    s = Stack(phase="phase2", redis={"masters": 4}, pgbouncer={"enabled": False})
    assert (s.redis.mode, s.redis.masters, s.pgbouncer.enabled) == ("cluster", 4, False)
    assert s.api.hpa.enabled  # the rest of the preset's api section stays
    assert Stack.model_validate(s.model_dump()) == s

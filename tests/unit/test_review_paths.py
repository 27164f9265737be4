"""Each scaling review's migration path (stacks/Pulumi.<review>-<phase>.yaml) loads, holds its
load target, and carries the review's numbers, in the loaded Stack and in the manifests."""

from __future__ import annotations

import re

import pytest

from phasestack.model import PHASES
from phasestack.paths import REVIEWS, paths, paths_table
from phasestack.plan.capacity import FAIL, plan
from phasestack.stackfile import load, project_root, stacks_dir
from phasestack.synth import secrets, synthesize

ROOT = project_root()
EXPECTED = {
    "000": ["brivara-mvp", "brivara-phase1", "brivara-phase2"],
    "001": ["ecobottle-mvp", "ecobottle-phase2", "ecobottle-phase3"],
    "002": ["zeropay-mvp", "zeropay-phase2", "zeropay-phase3"],
    "003": ["pixecom-phase1", "pixecom-phase2"],
    "004": ["primetrade-mvp", "primetrade-phase1"],
}
PATH_STACKS = [(rid, name) for rid, names in EXPECTED.items() for name in names]
VALUES = {key: "x" for key in secrets.CREDENTIALS}


def stack(name: str):
    return load(name, ROOT).stack


def rendered(name: str) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in synthesize(stack(name), VALUES)}


def test_paths_lists_every_review_in_phase_order():
    assert paths(ROOT) == EXPECTED
    assert set(REVIEWS) == set(EXPECTED)


def test_paths_table_names_system_file_and_steps():
    table = paths_table(paths(ROOT))
    assert table.splitlines()[0].split() == ["review", "system", "file", "path"]
    row = next(line for line in table.splitlines() if line.startswith("002"))
    assert "ZeroPay" in row and "002_f99052a1f9a0162e.txt" in row
    assert row.endswith("zeropay-mvp -> zeropay-phase2 -> zeropay-phase3")


def test_paths_orders_by_phase_not_alphabet_and_skips_unreviewed(tmp_path):
    (tmp_path / "stacks").mkdir()
    for name, phase, review in [("acme-phase3", "phase3", "009"), ("acme-mvp", "mvp", "009"),
                                ("acme-phase1", "phase1", "009"), ("plain", "mvp", None)]:
        text = f"config:\n  phasestack:phase: {phase}\n"
        if review:
            text += f'  phasestack:review: "{review}"\n'
        (stacks_dir(tmp_path) / f"Pulumi.{name}.yaml").write_text(text)
    assert paths(tmp_path) == {"009": ["acme-mvp", "acme-phase1", "acme-phase3"]}
    assert "?" in paths_table(paths(tmp_path))  # an unknown review id has no metadata


@pytest.mark.parametrize(("rid", "name"), PATH_STACKS)
def test_path_stack_loads_and_its_plan_does_not_fail(rid, name):
    s = stack(name)
    assert s.review == rid
    assert s.namespace == name
    assert name.startswith(REVIEWS[rid].prefix + "-")
    assert name.rpartition("-")[2] in PHASES
    assert s.phase == name.rpartition("-")[2]
    report = plan(s, name)
    failing = [c.formula for c in report.checks if c.status == FAIL]
    assert report.verdict != FAIL, failing


@pytest.mark.parametrize(("rid", "name"), PATH_STACKS)
def test_path_stack_cites_its_review_file(rid, name):
    text = (stacks_dir(ROOT) / f"Pulumi.{name}.yaml").read_text()
    assert REVIEWS[rid].file in text.splitlines()[0]
    # every value block of the review stack carries a review citation
    assert len(re.findall(rf"review {rid}", text)) >= 5


@pytest.mark.parametrize("rid", sorted(EXPECTED))
def test_each_path_grows_its_load_target(rid):
    users = [stack(n).load.concurrent_users for n in EXPECTED[rid]]
    rps = [stack(n).load.effective_peak_rps for n in EXPECTED[rid]]
    assert users == sorted(users) and len(set(users)) == len(users)
    assert rps == sorted(rps)


# --- review 002, ZeroPay: the headline numbers, on the Stack --------------------------------

def test_zeropay_mvp_stack():
    s = stack("zeropay-mvp")
    assert (s.load.concurrent_users, s.load.effective_peak_rps) == (10_000, 166)
    assert (s.api.replicas, s.api.hpa.enabled) == (2, False)
    assert (s.redis.mode, s.redis.masters, s.redis.maxmemory_mb) == ("standalone", 1, 2048)
    assert s.redis.maxmemory_policy == "noeviction"  # not the review's allkeys-lru
    assert s.app.app_pool_per_pod == 50
    assert not s.pgbouncer.enabled and s.postgres.read_replicas == 0
    assert s.nginx.rate_limit_per_minute == 100


@pytest.mark.parametrize(("name", "masters", "read_replicas", "api_min", "pgb_pods"),
                         [("zeropay-phase2", 3, 1, 3, 4), ("zeropay-phase3", 6, 3, 10, 6)])
def test_zeropay_scaled_stacks(name, masters, read_replicas, api_min, pgb_pods):
    s = stack(name)
    assert (s.redis.mode, s.redis.masters, s.redis.replicas_per_master) == (
        "cluster", masters, 1)
    pgb = s.pgbouncer
    assert pgb.enabled and pgb.pool_mode == "transaction"
    assert (pgb.max_client_conn, pgb.default_pool_size, pgb.min_pool_size) == (200, 25, 5)
    assert pgb.replicas == pgb_pods
    assert s.postgres.read_replicas == read_replicas
    assert s.api.hpa.enabled and s.api.min_pods == api_min


def test_zeropay_phase2_pgbouncer_is_the_reviews_100_connections():
    pgb = stack("zeropay-phase2").pgbouncer
    assert pgb.replicas * pgb.default_pool_size == 100


def test_zeropay_phase3_server_connections_in_reviews_100_to_200():
    pgb = stack("zeropay-phase3").pgbouncer
    assert 100 <= pgb.replicas * pgb.default_pool_size <= 200


def test_zeropay_phase3_redis_ops_match_review_load_model():
    # review 002, Target Load Modeling: ~8,000-13,000 Redis ops/sec at 1,666 rps
    figures = plan(stack("zeropay-phase3")).figures
    assert figures["redis_ops_per_s"] == pytest.approx(13_328)


# --- review 002, ZeroPay: the same numbers in the rendered manifests ------------------------

def test_zeropay_mvp_rendered():
    docs = rendered("zeropay-mvp")
    assert docs[("StatefulSet", "redis")]["spec"]["replicas"] == 1
    conf = docs[("ConfigMap", "redis")]["data"]["redis.conf"]
    assert "maxmemory 2048mb" in conf and "maxmemory-policy noeviction" in conf
    assert "cluster-enabled yes" not in conf
    assert docs[("Deployment", "api")]["spec"]["replicas"] == 2
    assert ("HorizontalPodAutoscaler", "api") not in docs
    assert ("Deployment", "pgbouncer") not in docs
    assert ("StatefulSet", "postgres-replica") not in docs


@pytest.mark.parametrize(("name", "redis_pods", "pgb_pods", "replicas", "hpa"),
                         [("zeropay-phase2", 6, 4, 1, (3, 10)),
                          ("zeropay-phase3", 12, 6, 3, (10, 20))])
def test_zeropay_scaled_rendered(name, redis_pods, pgb_pods, replicas, hpa):
    docs = rendered(name)
    assert docs[("StatefulSet", "redis")]["spec"]["replicas"] == redis_pods
    assert "cluster-enabled yes" in docs[("ConfigMap", "redis")]["data"]["redis.conf"]
    ini = docs[("ConfigMap", "pgbouncer")]["data"]["pgbouncer.ini"]
    for line in ("pool_mode = transaction", "max_client_conn = 200", "default_pool_size = 25",
                 "min_pool_size = 5"):
        assert re.search(rf"^{re.escape(line)}$", ini, re.M), line
    assert docs[("Deployment", "pgbouncer")]["spec"]["replicas"] == pgb_pods
    # the replicas are the CloudNativePG Cluster's standbys (the phase2 and phase3 presets)
    assert docs[("Cluster", "postgres")]["spec"]["instances"] == 1 + replicas
    spec = docs[("HorizontalPodAutoscaler", "api")]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == hpa
    target = spec["metrics"][0]["resource"]["target"]["averageUtilization"]
    assert target == 70


# --- the separate queue workers (reviews 000, 001, 003) --------------------------------------

WORKERS = {
    "brivara-mvp": {}, "brivara-phase1": {"queue-worker": 1},
    "brivara-phase2": {"queue-worker": 1},
    "ecobottle-mvp": {}, "ecobottle-phase2": {}, "ecobottle-phase3": {"orders-worker": 2},
    "pixecom-phase1": {"stats-worker": 1},
    "pixecom-phase2": {"stats-sync-high": 2, "stats-sync-medium": 1, "stats-sync-low": 1,
                       "stats-aggregate": 1, "orders-sync": 2, "tracking-refresh": 1},
}


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_workers_are_deployed_where_the_review_asks(name):
    assert {w.name: w.replicas for w in stack(name).api.workers} == WORKERS[name]
    docs = rendered(name)
    deployed = {k[1].removeprefix("worker-"): d["spec"]["replicas"] for k, d in docs.items()
                if k[0] == "Deployment" and k[1].startswith("worker-")}
    assert deployed == WORKERS[name]


# --- other reviews' headline numbers ---------------------------------------------------------

def test_brivara_numbers():
    mvp, p1 = stack("brivara-mvp"), stack("brivara-phase1")
    assert (mvp.load.concurrent_users, p1.load.concurrent_users) == (3_000, 10_000)
    assert (p1.load.requests_per_day, p1.load.effective_peak_rps) == (7_000_000, 250)
    assert (p1.api.replicas, p1.api.hpa.enabled) == (4, False)
    assert p1.app.app_pool_per_pod == 50 and p1.pgbouncer.enabled
    assert p1.redis.maxmemory_mb == 256 and p1.redis.maxmemory_policy == "noeviction"
    nginx_conf = rendered("brivara-phase1")[("ConfigMap", "nginx")]["data"]["nginx.conf"]
    assert "zone=general:10m rate=300r/m" in nginx_conf
    assert "zone=auth:10m rate=10r/m" in nginx_conf
    p2 = stack("brivara-phase2")
    assert (p2.load.concurrent_users, p2.load.effective_peak_rps) == (15_000, 500)
    assert (p2.api.hpa.min_replicas, p2.api.hpa.max_replicas) == (4, 8)
    assert p2.redis.mode == "standalone"


def test_ecobottle_numbers():
    mvp = stack("ecobottle-mvp")
    assert mvp.target == "docker" and mvp.api.replicas == 10
    assert (mvp.api.resources.cpu_limit, mvp.api.resources.memory_limit) == ("2", "2Gi")
    p2 = stack("ecobottle-phase2")
    assert p2.target == "kubernetes"
    assert (p2.api.hpa.min_replicas, p2.api.hpa.max_replicas, p2.api.hpa.cpu_target) == (
        10, 20, 70)
    assert (p2.api.resources.cpu_request, p2.api.resources.memory_request) == ("500m", "1Gi")
    assert (p2.redis.mode, p2.redis.masters, p2.redis.maxmemory_mb) == ("cluster", 3, 2048)
    assert p2.redis.maxmemory_policy == "noeviction"
    assert p2.app.app_pool_per_pod == 100
    p3 = stack("ecobottle-phase3")
    assert p3.api.hpa.min_replicas == 20
    # losing one PgBouncer pod refuses no client: (pods - 1) x max_client_conn >= clients
    for s in (p2, p3):
        clients = s.api.max_pods * s.app.app_pool_per_pod
        assert (s.pgbouncer.replicas - 1) * s.pgbouncer.max_client_conn >= clients


def test_pixecom_numbers():
    p1, p2 = stack("pixecom-phase1"), stack("pixecom-phase2")
    for s in (p1, p2):
        assert (s.postgres.statement_timeout_s, s.postgres.lock_timeout_s) == (30, 5)
        assert s.app.app_pool_per_pod == 20  # review 003 MUST-FIX 2: connection_limit=20
        assert s.nginx.client_max_body_size == "1m"
    assert p1.postgres.read_replicas == 1 and not p1.pgbouncer.enabled
    assert p2.api.hpa.min_replicas == 3 and p2.pgbouncer.enabled
    assert (p2.redis.mode, p2.postgres.read_replicas) == ("cluster", 2)
    sql = rendered("pixecom-phase1")[("ConfigMap", "postgres")]["data"]["init-roles.sql"]
    assert "statement_timeout = '30s'" in sql and "lock_timeout = '5s'" in sql


def test_primetrade_numbers():
    mvp, p1 = stack("primetrade-mvp"), stack("primetrade-phase1")
    assert mvp.api.replicas == 3 and mvp.app.app_pool_per_pod == 10
    assert p1.api.hpa.min_replicas == 3 and p1.postgres.read_replicas == 2
    conf = rendered("primetrade-mvp")[("ConfigMap", "nginx")]["data"]["nginx.conf"]
    assert re.search(r"^\s*least_conn;$", conf, re.M)
    assert "location /api/auth/ {" in conf and "zone=auth:10m rate=1r/m" in conf

"""postgres.external (issue 14 item 6): a managed PostgreSQL's endpoint, Secret and TLS, and
what a stack with one may not also ask for."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.model.external import PRIVATE_NETWORKS, ExternalPostgres

RDS = {"host": "db.abc.eu-west-1.rds.amazonaws.com", "password_secret": "shop-db"}


def test_defaults_are_a_managed_services():
    ext = ExternalPostgres(**RDS)
    assert (ext.port, ext.password_key, ext.sslmode, ext.read_host) == (
        5432, "password", "require", None)
    assert ext.cidrs == list(PRIVATE_NETWORKS)


def test_read_replicas_are_the_providers(refusal):
    assert refusal(lambda: Stack.for_phase("phase2", postgres={"external": RDS})) == (
        "read_replicas 1: a managed PostgreSQL's replicas are the provider's; give "
        "their reader endpoint as external.read_host, and read_replicas: 0")
    # phase2's pools (2 x 55) need both pools off the primary or a bigger server
    Stack.for_phase("phase2", postgres={"external": {**RDS, "read_host": "ro.example"},
                                        "read_replicas": 0})


def test_bad_endpoint_secret_and_cidr(refusal):
    from pydantic import ValidationError

    from phasestack.problems import describe

    try:
        Stack(postgres={"external": {"host": "db example", "password_secret": "S!"}})
    except ValidationError as err:
        said = describe("stacks/Pulumi.x.yaml", err)
    assert said == [
        "stacks/Pulumi.x.yaml: phasestack:postgres.external.host: must be a host name or "
        "address such as db.example.com (got 'db example')",
        "stacks/Pulumi.x.yaml: phasestack:postgres.external.password_secret: must be a "
        "Kubernetes object name: lower-case letters, digits, - and . (got 'S!')"]
    assert refusal(lambda: ExternalPostgres(**RDS, cidrs=["0.0.0.0/0"])) == (
        "'0.0.0.0/0' is every address; name the database's subnets")
    assert refusal(lambda: ExternalPostgres(**RDS, sslmode="verify-full")) == (
        "Input should be 'disable', 'prefer' or 'require'")


def test_a_managed_role_may_be_called_postgres():
    # phasestack creates no role on a managed server: its reserved names do not apply
    assert Stack(postgres={"external": RDS, "app_user": "postgres"}).postgres.app_user == \
        "postgres"


def test_the_docker_target_runs_its_own(refusal):
    assert "postgres.external" in refusal(lambda: Stack(target="docker",
                                                        postgres={"external": RDS}))


def test_a_reader_endpoint_takes_the_read_pool_off_the_primary():
    one = Stack.for_phase("phase1", postgres={"external": {**RDS, "read_host": "ro.example"}})
    two = Stack.for_phase("phase1", postgres={"external": RDS})
    assert (one.pgbouncer_primary_pools, two.pgbouncer_primary_pools) == (1, 2)


CACHE = {"host": "shop.abc.clustercfg.euw1.cache.amazonaws.com", "password_secret": "cache"}


def test_a_managed_redis_needs_redis_on(refusal):
    assert refusal(lambda: Stack(redis={"enabled": False, "external": CACHE})) == (
        "external: a managed Redis needs enabled: true (false is no Redis at all)")
    ext = Stack(redis={"external": CACHE}).redis.external
    assert (ext.port, ext.tls, ext.username, ext.password_key) == (6379, True, None,
                                                                   "password")


def test_a_managed_redis_is_checked_by_the_planner_but_not_run():
    from phasestack.plan.capacity import plan
    from phasestack.synth import prometheus, secrets

    stack = Stack.for_phase("phase2", namespace="t", redis={"external": CACHE})
    assert stack.has("redis") and not stack.runs("redis")
    assert {"redis_memory", "redis_ops"} <= {c.name for c in plan(stack).checks}
    assert "redis" not in {j.name for j in prometheus.jobs(stack)}
    assert "redis-credentials" not in secrets.required(stack)


def test_a_managed_redis_declares_its_own_maxmemory(refusal):
    """The pod memory limit is of an in-cluster Redis only: a 13 GiB ElastiCache node (its
    maxmemory) must not be checked against the 2560Mi of a pod that does not run."""
    from phasestack.plan.capacity import plan

    stack = Stack.for_phase("phase1", redis={"external": CACHE, "maxmemory_mb": 13_000})
    (memory,) = [c for c in plan(stack).checks if c.name == "redis_memory"]
    assert "13000" in memory.formula.replace(",", "")
    assert refusal(lambda: Stack.for_phase("phase1", redis={"maxmemory_mb": 13_000})) == (
        "maxmemory_mb (13000) must be <= 80% of resources.memory_limit (2560Mi = 2,560 MiB)")


def test_a_managed_redis_names_its_subnets(refusal):
    assert refusal(lambda: Stack(redis={"external": {**CACHE, "cidrs": ["0.0.0.0/0"]}})) == (
        "'0.0.0.0/0' is every address; name the cache's subnets")

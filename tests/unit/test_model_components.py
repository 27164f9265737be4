"""Args of the components used on their own: defaults, the Stack they make, exact refusals."""


from phasestack.model import PgBouncerArgs, PostgresArgs, RedisArgs, Server, Stack
from phasestack.phases import preset

SERVER = {"host": "orders-db.example.internal", "password_secret": "orders-db"}


def test_args_make_a_one_component_stack_with_the_prefix():
    stack = RedisArgs(namespace="shop", mode="cluster", masters=3,
                      replicas_per_master=1).stack("sessions-")
    assert (stack.namespace, stack.prefix, stack.redis.mode, stack.redis.masters) == (
        "shop", "sessions-", "cluster", 3)
    pg = PostgresArgs(namespace="shop", read_replicas=2).stack("orders-")
    assert pg.postgres.read_replicas == 2 and not pg.pgbouncer.enabled


def test_pgbouncer_args_describe_the_server_to_the_stack():
    args = PgBouncerArgs(namespace="shop", server={**SERVER, "database": "orders",
                                                    "user": "orders", "read_host": "ro.db"})
    stack = args.stack("pool-")
    assert stack.pgbouncer.enabled and args.enabled
    assert (stack.postgres.database, stack.postgres.app_user) == ("orders", "orders")
    # the server is the stack's managed PostgreSQL; the read-only pool goes to read_host
    assert stack.postgres.external.host == SERVER["host"]
    assert stack.postgres.external.read_host == "ro.db"
    assert stack.pgbouncer_primary_pools == 1 and stack.postgres.read_replicas == 0
    assert Server(**SERVER).port == 5432 and Server(**SERVER).password_key == "app-password"


def test_namespace_is_required(refusal):
    assert refusal(lambda: RedisArgs()) == "Field required"


def test_section_rules_still_apply(refusal):
    assert refusal(lambda: RedisArgs(namespace="shop", mode="cluster", masters=2)) == \
        "Redis Cluster needs at least 3 masters, got 2"
    assert refusal(lambda: PgBouncerArgs(namespace="shop", enabled=False, server=SERVER)) == \
        "Input should be True"


def test_stack_rules_refuse_args_when_they_are_made(refusal):
    assert refusal(lambda: PgBouncerArgs(namespace="shop",
                                         server={**SERVER, "max_connections": 100})) == (
        "pgbouncer: server connections 2 x (25 + 5) x 2 pool(s) on the primary = "
        "120, + replication 0 + monitoring 2 + superuser_reserved 3 = 125 exceed postgres "
        "max_connections 100")
    assert refusal(lambda: RedisArgs(namespace="kube-system")) == (
        "namespace: 'kube-system' is a system namespace; a stack needs one of its "
        "own")


def test_bad_prefix_is_refused(refusal):
    assert refusal(lambda: Stack(prefix="Blue")) == (
        "String should match pattern '^([a-z]([-a-z0-9]{0,18}[a-z0-9])?-)?$'")
    assert refusal(lambda: Stack(prefix="blue")) == refusal(lambda: Stack(prefix="Blue"))


def test_for_phase_is_the_preset_as_a_stack_file_gets_it():
    stack = Stack.for_phase("phase2", namespace="shop", redis={"maxmemory_mb": 1024})
    assert stack.redis.mode == preset("phase2")["redis"]["mode"] == "cluster"
    assert stack.redis.maxmemory_mb == 1024 and stack.namespace == "shop"
    assert stack.postgres.read_replicas == preset("phase2")["postgres"]["read_replicas"]


def test_api_args_are_the_api_section_and_its_stores(refusal):
    from phasestack.model import ApiArgs, NginxArgs

    assert refusal(lambda: ApiArgs(namespace="shop")) == "Field required"  # database
    args = ApiArgs(namespace="shop", port=3000, database=SERVER,
                   redis={"host": "c.example", "password_secret": "cache", "mode": "cluster"})
    stack = args.stack("shop-")
    assert stack.api.port == 3000 and stack.api.image == ApiArgs.model_fields["image"].default
    assert stack.postgres.external.host == SERVER["host"]
    assert (stack.redis.mode, stack.redis.external.host) == ("cluster", "c.example")
    assert not stack.has("nginx") and not stack.runs("redis")
    assert not ApiArgs(namespace="shop", database=SERVER).stack("x-").has("redis")
    # the api section's own rules still refuse
    assert refusal(lambda: ApiArgs(namespace="shop", database=SERVER,
                                   env={"DATABASE_URL": "x"})) == (
        "DATABASE_URL: set by phasestack from the stack's wiring (rename the injected ones "
        "with api.env_names)")
    assert NginxArgs(namespace="shop", api_port=3000).stack("shop-").api.port == 3000
    assert refusal(lambda: NginxArgs(namespace="shop", enabled=False)) == "Input should be True"


def _watched():
    from phasestack.model import ApiArgs

    return {"sessions": RedisArgs(namespace="shop", maxmemory_mb=512),
            "orders": PostgresArgs(namespace="shop", read_replicas=1, max_connections=300),
            "pool": PgBouncerArgs(namespace="shop", server={**SERVER, "max_connections": 300}),
            "shop": ApiArgs(namespace="shop", hpa={"enabled": True}, database=SERVER)}


def test_monitoring_args_watch_instances_by_their_prefixes():
    from phasestack.model import MonitoringArgs

    stack = MonitoringArgs(namespace="shop", alerts=True,
                           watch=list(_watched().items())).stack("obs-")
    assert stack.targets == {"redis": "sessions-", "postgres": "orders-",
                             "pgbouncer": "pool-", "api": "shop-"}
    assert (stack.prefix, stack.monitoring.alerts) == ("obs-", True)
    # the watched sections are the stack's: thresholds and alerts read them
    assert stack.redis.maxmemory_mb == 512 and stack.postgres.max_connections == 300
    assert stack.postgres.read_replicas == 1 and stack.pgbouncer.enabled
    assert not stack.has("nginx") and stack.scrapes("redis") and not stack.scrapes("nginx")
    assert stack.prefix_of("postgres") == "orders-" and stack.prefix_of("monitoring") == "obs-"
    # nothing watched: a Prometheus scraping nothing but itself
    empty = MonitoringArgs(namespace="shop").stack("obs-")
    assert empty.targets == {} and not empty.has("redis")


def test_monitoring_args_refuse_two_of_a_component_and_another_namespace(refusal):
    from phasestack.model import MonitoringArgs

    two = {"a": RedisArgs(namespace="shop"), "b": RedisArgs(namespace="shop")}
    assert refusal(lambda: MonitoringArgs(namespace="shop", watch=list(two.items()))) == (
        "watch: 'a' and 'b' are both redis instances; one Monitoring scrapes one of each (its "
        "jobs are named after the component): make another Monitoring for the second")
    assert refusal(lambda: MonitoringArgs(namespace="shop", watch=[
        ("a", RedisArgs(namespace="other"))])) == (
        "watch.a: namespace 'other' is not the Monitoring's 'shop' (Prometheus finds pods "
        "through Services in its own namespace)")
    assert refusal(lambda: MonitoringArgs(namespace="shop", grafana=True,
                                          prometheus=False)) == \
        "grafana and alerts need prometheus: true"
    # entries given as dicts are checked too (after they become args)
    assert refusal(lambda: MonitoringArgs(namespace="shop", watch=[
        ("a", {"namespace": "shop"}), ("b", {"namespace": "shop"})])).startswith(
        "watch: 'a' and 'b' are both redis instances")
    from phasestack.model import NginxArgs

    assert refusal(lambda: MonitoringArgs(namespace="shop", watch=[
        ("shop", NginxArgs(namespace="shop"))])) == (
        "rps_critical: required when the Monitoring watches nginx (the request rate "
        "NginxRequestRateCritical fires at; a stack derives it from its app profile, which "
        "component args do not carry)")


def test_monitoring_without_an_api_renders_no_api_rules():
    """Review finding: the default Api of a Monitoring's Stack has metrics on; without a
    watched API its rules could never fire."""
    import yaml

    from phasestack.model import MonitoringArgs
    from phasestack.synth.prometheus import alert_rules

    stack = MonitoringArgs(namespace="shop", alerts=True, watch=[
        ("sessions", RedisArgs(namespace="shop"))]).stack("obs-")
    names = [r["alert"] for g in yaml.safe_load(alert_rules(stack))["groups"]
             for r in g["rules"]]
    assert names == ["ScrapeTargetDown", "RedisMemoryWarning", "RedisMemoryCritical",
                     "RedisCpuWarning", "RedisCpuCritical"]

"""The components on their own, under mocks: examples/own_program (a Redis Cluster, a PgBouncer
in front of an existing PostgreSQL, the app against both and nginx in front) and two instances
of one component side by side."""

from __future__ import annotations

import base64
from pathlib import Path

import pulumi
import pytest
from test_program import normalise

from phasestack.model import (
    ApiArgs,
    MonitoringArgs,
    NginxArgs,
    PgBouncerArgs,
    PostgresArgs,
    RedisArgs,
    RedisServer,
    Server,
)
from phasestack.synth import api, monitoring, nginx, pgbouncer, redis

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own_program" / "__main__.py"
SERVER_PASSWORD = "server-password-0123456789abcdef"
CONFIG = {"own_program:postgresHost": "orders-db.example.internal"}


@pytest.fixture
def example(harness):
    """The example program under mocks; the existing Secret orders-db reads as a cluster
    would answer (base64 data)."""
    recorder = harness.run_program.__globals__["Recorder"]

    class Cluster(recorder):
        def new_resource(self, args):
            rid, state = super().new_resource(args)
            if args.resource_id and args.typ == "kubernetes:core/v1:Secret":
                state["data"] = {"password": base64.b64encode(SERVER_PASSWORD.encode()).decode()}
            return rid, state

    return harness.run_program("dev", CONFIG, main=EXAMPLE, mocks=Cluster())


def registered(run) -> list:
    """The resources the program creates (a read of an existing Secret has no inputs)."""
    return [r for r in run.kube() if "metadata" in r.inputs]


def docs(run) -> dict[tuple[str, str], dict]:
    return {(r.type.split(":")[-1], r.inputs["metadata"]["name"]): normalise(r.inputs)
            for r in registered(run)}


def example_args() -> dict:
    """The example's args (but nginx's), as it builds them with its config (namespace
    shop)."""
    server = Server(host="orders-db.example.internal", database="orders", user="orders",
                    password_secret="orders-db", password_key="password")
    return {
        "sessions": RedisArgs(namespace="shop", mode="cluster", masters=3,
                              replicas_per_master=1, maxmemory_mb=1024),
        "orders-pool": PgBouncerArgs(namespace="shop", replicas=2, server=server),
        "shop": ApiArgs(namespace="shop", replicas=2, database=Server(
            host="orders-pool-pgbouncer.shop.svc.cluster.local", port=6432, database="orders",
            user="orders", password_secret="orders-db", password_key="password",
            sslmode="disable"), redis=RedisServer(
            mode="cluster", host="sessions-redis.shop.svc.cluster.local",
            password_secret="sessions-redis-credentials"))}


def test_example_registers_the_synthesized_manifests_of_every_component(example):
    got = docs(example)
    args = example_args()
    front = NginxArgs(namespace="shop", service_type="ClusterIP")
    entry = front.stack("shop-")
    obs = MonitoringArgs(namespace="shop", alerts=True, grafana=True, rps_critical=400,
                         watch=[*args.items(), ("shop", front)]).stack("obs-")
    expected = [*redis.manifests(args["sessions"].stack("sessions-")),
                *pgbouncer.manifests(args["orders-pool"].stack("orders-pool-")),
                *api.manifests(args["shop"].stack("shop-")), *nginx.manifests(entry),
                *monitoring.manifests(obs)]
    for doc in expected:
        assert got[(doc["kind"], doc["metadata"]["name"])] == doc, doc["metadata"]["name"]
    # and the Redis and Grafana passwords' Secrets; nothing else (PgBouncer's pods write
    # their userlist)
    assert sorted(set(got) - {(d["kind"], d["metadata"]["name"]) for d in expected}) == [
        ("Secret", "obs-grafana-credentials"), ("Secret", "sessions-redis-credentials")]
    assert not any(k == "NetworkPolicy" or k == "Namespace" for k, _ in got)


def test_monitoring_on_its_own_scrapes_each_instance_by_its_name(example, harness):
    """issue 13 item 2: Monitoring("obs", MonitoringArgs(watch=...)): one scrape job per
    watched instance, selecting that instance's pods; thresholds from its args."""
    got = docs(example)
    selects = {name.removeprefix("obs-scrape-"): doc["spec"]["selector"]
               for (kind, name), doc in got.items()
               if kind == "Service" and name.startswith("obs-scrape-")}
    assert selects == {
        "api": {"app.kubernetes.io/name": "shop-api"},
        "nginx": {"app.kubernetes.io/name": "shop-nginx"},
        "redis": {"app.kubernetes.io/name": "sessions-redis"},
        "pgbouncer": {"app.kubernetes.io/name": "orders-pool-pgbouncer"}}
    data = got[("ConfigMap", "obs-prometheus")]["data"]
    assert '- names: ["obs-scrape-redis.shop.svc.cluster.local"]' in data["prometheus.yml"]
    # the shop's managed PostgreSQL is not scraped: no PostgreSQL rules
    assert "RedisMemory" in data["alerts.yml"] and "PgBouncerClientsWaiting" in data[
        "alerts.yml"] and "PostgresConnections" not in data["alerts.yml"]
    out = normalise(example.component("Monitoring"))
    assert out == {"prometheus_url": "http://obs-prometheus.shop.svc.cluster.local:9090",
                   "grafana_url": "http://obs-grafana.shop.svc.cluster.local:3000",
                   "grafana_secret_name": "obs-grafana-credentials"}
    assert "obs-grafanapassword" in {r.name for r in example.of_type(harness.PASSWORD_TYPE)}
    assert example.exports["prometheus_url"] == out["prometheus_url"]


def test_example_uses_the_callers_provider_for_everything(example):
    (provider,) = example.of_type("pulumi:providers:kubernetes")
    kube = registered(example)
    reads = [r for r in example.kube() if r.name == "orders-pool-server-password"]
    assert kube and reads
    for res in [*kube, *reads]:
        assert res.provider and res.provider.startswith(
            "urn:pulumi:dev::own_program::pulumi:pulumi:Stack$pulumi:providers:kubernetes"
            "::cluster::"), res.name


def test_example_outputs_and_secret_urls(example, harness):
    ns = "shop"
    redis_out = example.component("Redis")
    assert normalise(redis_out)["nodes"] == [
        f"sessions-redis-{i}.sessions-redis-headless.{ns}.svc.cluster.local:6379"
        for i in range(3)]  # three seeds of the 6 pods
    assert example.exports["redis_secret"] == "sessions-redis-credentials"
    pw = harness.fake_password("sessions-redispassword")
    assert example.exports["redis_url"] == \
        f"redis://app:{pw}@sessions-redis.{ns}.svc.cluster.local:6379/0"
    host = f"orders-pool-pgbouncer.{ns}.svc.cluster.local"
    assert example.exports["database_host"] == host
    assert example.exports["database_url"] == \
        f"postgresql://orders:{SERVER_PASSWORD}@{host}:6432/orders"
    assert example.exports["database_read_url"] == \
        f"postgresql://orders:{SERVER_PASSWORD}@{host}:6432/orders_ro"
    assert {"redis_url", "database_url", "database_read_url"} <= example.secret_exports
    assert "database_host" not in example.secret_exports


def test_the_server_password_reaches_no_resource_only_the_pods_from_its_secret(example):
    for res in registered(example):
        assert SERVER_PASSWORD not in str(normalise(res.inputs)), res.name
    (dep,) = [r for r in registered(example) if r.type.endswith("Deployment")
              and r.inputs["metadata"]["name"] == "orders-pool-pgbouncer"]
    volumes = normalise(dep.inputs)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "server-password", "secret": {
        "secretName": "orders-db", "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}]}} in volumes


def _two_of_each():
    opts = pulumi.ResourceOptions()
    from phasestack.components.postgres import Postgres
    from phasestack.components.redis import Redis

    Redis("sessions", RedisArgs(namespace="shop"), opts)
    Redis("cache", RedisArgs(namespace="shop", maxmemory_policy="allkeys-lru"), opts)
    Postgres("orders", PostgresArgs(namespace="shop", read_replicas=1), opts)
    Postgres("reviews", PostgresArgs(namespace="shop"), opts)


def test_two_instances_of_a_component_share_a_namespace(harness, tmp_path):
    main = tmp_path / "two" / "__main__.py"
    main.parent.mkdir()
    main.write_text("from test_components import _two_of_each\n_two_of_each()\n")
    run = harness.run_program("dev", main=main)
    urns = run.monitor.urns
    assert len(urns) == len(set(urns)) == len(run.resources) + 1  # + the root Stack
    names = [k for k in docs(run)]
    assert len(names) == len(registered(run))  # no (kind, name) twice
    for instance, kind in (("sessions", "redis"), ("cache", "redis"), ("orders", "postgres"),
                           ("reviews", "postgres")):
        assert ("StatefulSet", f"{instance}-{kind}") in names
    assert ("StatefulSet", "orders-postgres-replica") in names
    # each instance its own generated passwords
    passwords = [r.name for r in run.of_type(harness.PASSWORD_TYPE)]
    assert sorted(passwords) == sorted(
        [f"{i}-{c}" for i in ("sessions", "cache") for c in ("redispassword",
                                                            "redisadminpassword")]
        + [f"{i}-{c}" for i in ("orders", "reviews") for c in (
            "postgrespassword", "apppassword", "replicationpassword", "monitorpassword")])
    orders = normalise(run.component_named("Postgres", "orders"))
    assert orders["host"] == "orders-postgres.shop.svc.cluster.local"
    assert orders["read_host"] == "orders-postgres-ro.shop.svc.cluster.local"
    assert orders["secret_name"] == "orders-postgres-credentials"
    assert orders["url"].startswith("postgresql://app:") and orders["url"].endswith(
        "@orders-postgres.shop.svc.cluster.local:5432/app")


def test_args_are_the_stack_sections():
    """One model: the args have every field of the stack file's section, with its default."""
    from phasestack.model import Api, Monitoring, Nginx, PgBouncer, Postgres, Redis

    for args, section in ((RedisArgs, Redis), (PostgresArgs, Postgres),
                          (PgBouncerArgs, PgBouncer), (ApiArgs, Api), (NginxArgs, Nginx),
                          (MonitoringArgs, Monitoring)):
        for name, field in section.model_fields.items():
            if name == "enabled":
                continue
            assert args.model_fields[name].default == field.default, (args, name)
            assert args.model_fields[name].description == field.description


def _topology_on_my_cluster():
    import pulumi_kubernetes as k8s

    from phasestack.components.topology import Topology, TopologyArgs
    from phasestack.model import Stack

    eks = k8s.Provider("eks", kubeconfig="{}")
    Topology("shop", TopologyArgs(Stack.for_phase("phase1", namespace="shop"), provider=eks))


def test_topology_uses_the_callers_provider(harness, tmp_path):
    main = tmp_path / "mine" / "__main__.py"
    main.parent.mkdir()
    main.write_text("from test_components import _topology_on_my_cluster\n"
                    "_topology_on_my_cluster()\n")
    run = harness.run_program("dev", main=main)
    (provider,) = run.of_type("pulumi:providers:kubernetes")  # no second one of its own
    assert provider.name == "eks"
    kube = registered(run)
    assert any(r.inputs["metadata"]["name"] == "pgbouncer" for r in kube)  # phase1's shape
    assert all(r.provider.split("::")[-2] == "eks" for r in kube)


def test_a_named_instance_takes_its_passwords_from_its_own_config_keys(harness, tmp_path):
    main = tmp_path / "two" / "__main__.py"
    main.parent.mkdir()
    main.write_text("from test_components import _two_of_each\n_two_of_each()\n")
    given = "sessions-admin-0123456789abcdef"
    run = harness.run_program("dev", {"phasestack:sessions-redisAdminPassword": given},
                              main=main)
    assert "sessions-redisadminpassword" not in {r.name for r in run.of_type(
        harness.PASSWORD_TYPE)}
    (secret,) = [r for r in registered(run)
                 if r.inputs["metadata"]["name"] == "sessions-redis-credentials"]
    assert normalise(secret.inputs)["stringData"]["admin-password"] == given
    (other,) = [r for r in registered(run)
                if r.inputs["metadata"]["name"] == "cache-redis-credentials"]
    assert normalise(other.inputs)["stringData"]["admin-password"] != given


def test_the_app_and_its_nginx_on_their_own(example):
    """issue 13 item 2: ApiService and LoadBalancer with typed args, wired to the instances
    by their names; the app's variables name their Services and Secrets."""
    (dep,) = [r for r in registered(example) if r.type.endswith("Deployment")
              and r.inputs["metadata"]["name"] == "shop-api"]
    env = {e["name"]: e for e in normalise(dep.inputs)["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert env["DATABASE_URL"]["value"] == (
        "postgresql://orders:$(DB_PASSWORD)@orders-pool-pgbouncer.shop.svc.cluster.local:6432/"
        "orders?sslmode=disable")
    assert env["REDIS_CLUSTER_NODES"]["value"] == "sessions-redis.shop.svc.cluster.local:6379"
    assert env["REDIS_USERNAME"]["value"] == "app"
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "sessions-redis-credentials", "key": "redis-password"}
    (conf,) = [r for r in registered(example) if r.type.endswith("ConfigMap")
               and r.inputs["metadata"]["name"] == "shop-nginx"]
    assert "shop-api-headless.shop.svc.cluster.local:9898" in str(conf.inputs["data"])
    assert example.exports["endpoint"] == "http://shop-nginx.shop.svc.cluster.local:80"
    assert example.exports["api_host"] == "shop-api.shop.svc.cluster.local"

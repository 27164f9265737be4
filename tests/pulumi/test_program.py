"""The Pulumi program under mocks: parity with `phasestack render`, secrets, component outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pulumi.runtime import rpc

from phasestack import stackfile
from phasestack.components import load_balancer
from phasestack.synth import cnpg, cnpg_operator, secrets, synthesize

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
STACK_NAMES = [stackfile.stack_name(p) for p in stackfile.list_stack_files(ROOT)]
COMPONENT_TYPES = {"Network", "Credentials", "ApiService", "LoadBalancer", "Redis", "Postgres",
                   "PgBouncer", "Monitoring", "CloudNativePGOperator"}
KUBE_STACKS = [s for s in STACK_NAMES
               if stackfile.load(s, ROOT).stack.target == "kubernetes"]


def normalise(value):
    """Numbers arrive as floats through the mocks; secrets arrive wrapped."""
    if rpc.is_rpc_secret(value):
        return normalise(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def without_secrets(value):
    """The inputs with every secret-wrapped part removed: what may never hold a password."""
    if rpc.is_rpc_secret(value):
        return "<secret>"
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def mock_values(harness) -> dict[str, str]:
    """The credentials the mocked program used: RandomPassword '<credential lowercased>'."""
    return {c: harness.fake_password(c.lower()) for c in secrets.CREDENTIALS}


def key(doc: dict) -> tuple[str, str, str]:
    md = doc["metadata"]
    return doc["kind"], md.get("namespace", ""), md["name"]


@pytest.mark.parametrize("name", KUBE_STACKS)
def test_registers_exactly_the_synthesized_manifests(program, harness, name):
    run = program(name)
    stack = stackfile.load(name, ROOT).stack
    expected = {key(d): d for d in synthesize(stack, mock_values(harness))}
    if cnpg.enabled(stack) and stack.postgres.cloudnativepg.install_operator:
        # and the operator, as its release manifest has it (its child: CloudNativePGOperator)
        expected |= {key(d): d for d in cnpg_operator.manifests()}
    got = {}
    for res in run.kube():
        doc = normalise(res.inputs)
        assert res.type.split(":")[-1] == doc["kind"]
        assert res.name == "/".join(p for p in key(doc) if p).lower()  # deterministic names
        assert key(doc) not in got, f"registered twice: {key(doc)}"
        got[key(doc)] = doc
    assert sorted(got) == sorted(expected)
    for k, doc in expected.items():
        assert got[k] == doc, k  # spec, data, metadata, and even the Secret values


@pytest.mark.parametrize("name", KUBE_STACKS)
def test_every_manifest_has_its_component_parent_and_the_stack_provider(program, name):
    run = program(name)
    provider = run.of_type("pulumi:providers:kubernetes")
    assert len(provider) == 1
    assert provider[0].inputs["namespace"] == stackfile.load(name, ROOT).stack.namespace
    for res in run.kube():
        assert res.provider and "pulumi:providers:kubernetes::kubernetes::" in res.provider
        assert run.parent_type(res).removeprefix("phasestack:index:") in COMPONENT_TYPES
    by_parent = {run.parent_type(r): r for r in run.kube() if r.type.endswith(":StatefulSet")
                 and r.inputs["metadata"]["name"] == "redis"}
    runs_redis = stackfile.load(name, ROOT).stack.runs("redis")
    assert list(by_parent) == ["phasestack:index:Redis"] * runs_redis


@pytest.mark.parametrize("name", KUBE_STACKS)
def test_credentials_are_generated_secret_and_never_plain(program, name):
    run = program(name)
    passwords = run.of_type(PASSWORD_TYPE)
    assert passwords, "one RandomPassword per credential"
    for res in passwords:
        assert normalise(res.inputs) == {"length": 32, "special": False}
    values = list(run.mocks.passwords.values())
    secret_docs = [r for r in run.kube() if r.type == "kubernetes:core/v1:Secret"]
    assert secret_docs
    for res in secret_docs:
        assert rpc.is_rpc_secret(res.inputs["stringData"]), res.name
    seen_inside_secrets = json.dumps([normalise(r.inputs) for r in secret_docs])
    for value in values:
        assert value in seen_inside_secrets  # each generated password is used ...
        for res in run.resources:  # ... and appears nowhere outside a secret input
            assert value not in json.dumps(without_secrets(res.inputs), default=str), res.name
        assert value not in json.dumps(run.exports, default=str)


@pytest.mark.parametrize("name", ["phase2"])
def test_program_marks_secrets_even_when_the_engine_does_not(program, name):
    run = program(name, engine_secrets=False)
    for res in run.kube():
        if res.type == "kubernetes:core/v1:Secret":
            assert rpc.is_rpc_secret(res.inputs["stringData"]), res.name


def test_secret_config_overrides_a_generated_credential(program):
    chosen = "from-pulumi-config-set-secret-0123"
    run = program("phase1", {"phasestack:appPassword": chosen})
    assert "apppassword" not in run.mocks.passwords  # no RandomPassword for it
    assert "postgrespassword" in run.mocks.passwords
    by_name = {r.inputs["metadata"]["name"]: r for r in run.kube()
               if r.type == "kubernetes:core/v1:Secret"}
    pg = by_name["postgres-credentials"].inputs["stringData"]
    assert rpc.is_rpc_secret(pg) and pg["value"]["app-password"] == chosen
    userlist = by_name["pgbouncer-userlist"].inputs["stringData"]
    assert rpc.is_rpc_secret(userlist)
    assert userlist["value"]["userlist.txt"] == f'"app" "{chosen}"\n'
    for res in run.resources:
        assert chosen not in json.dumps(without_secrets(res.inputs), default=str)


def test_component_outputs_phase2(program, harness):
    run = program("phase2")
    ns = "ps-phase2"
    # the connection URLs are secret outputs, with the generated passwords
    app_pw, redis_pw = harness.fake_password("apppassword"), harness.fake_password("redispassword")
    for component in ("Postgres", "PgBouncer", "Redis"):
        assert rpc.is_rpc_secret(run.component(component)["url"]), component
    # phase2's CloudNativePG Cluster: the operator's -rw and -ro Services
    assert normalise(run.component("Postgres")) == {
        "host": f"postgres-rw.{ns}.svc.cluster.local", "port": 5432,
        "read_host": f"postgres-ro.{ns}.svc.cluster.local", "database": "app", "user": "app",
        "secret_name": "postgres-credentials", "password_key": "app-password",
        "url": f"postgresql://app:{app_pw}@postgres-rw.{ns}.svc.cluster.local:5432/app",
        "read_url": f"postgresql://app:{app_pw}@postgres-ro.{ns}.svc.cluster.local:5432/app"}
    assert normalise(run.component("PgBouncer")) == {
        "host": f"pgbouncer.{ns}.svc.cluster.local", "port": 6432,
        "database": "app", "read_database": "app_ro",
        "url": f"postgresql://app:{app_pw}@pgbouncer.{ns}.svc.cluster.local:6432/app",
        "read_url": f"postgresql://app:{app_pw}@pgbouncer.{ns}.svc.cluster.local:6432/app_ro",
        "userlist_secret_name": "pgbouncer-userlist"}
    assert normalise(run.component("Redis")) == {
        "host": f"redis.{ns}.svc.cluster.local", "port": 6379,
        "headless_host": f"redis-headless.{ns}.svc.cluster.local",
        "secret_name": "redis-credentials", "mode": "cluster", "masters": 3,
        "password_key": "redis-password", "username": "app",
        "url": f"redis://app:{redis_pw}@redis.{ns}.svc.cluster.local:6379/0",
        # three seeds of the 6 pods (REDIS_CLUSTER_NODES)
        "nodes": [f"redis-{i}.redis-headless.{ns}.svc.cluster.local:6379" for i in range(3)]}
    assert normalise(run.component("LoadBalancer")) == {
        "host": f"nginx.{ns}.svc.cluster.local", "port": 80,
        "endpoint": f"http://nginx.{ns}.svc.cluster.local:80"}
    assert normalise(run.component("ApiService")) == {
        "host": f"api.{ns}.svc.cluster.local", "port": 9898,
        "headless_host": f"api-headless.{ns}.svc.cluster.local"}
    assert normalise(run.component("Monitoring")) == {
        "prometheus_url": f"http://prometheus.{ns}.svc.cluster.local:9090",
        "grafana_url": f"http://grafana.{ns}.svc.cluster.local:3000",
        "grafana_secret_name": "grafana-credentials"}
    assert normalise(run.component("Credentials")) == {"secret_names": [
        "grafana-credentials", "pgbouncer-userlist", "postgres-app", "postgres-credentials",
        "redis-credentials"]}
    net = normalise(run.component("Network"))
    assert net["namespace"] == ns and "default-deny" in net["policy_names"]
    assert run.exports["endpoint"] == f"http://nginx.{ns}.svc.cluster.local:80"
    assert run.exports["database_host"] == f"pgbouncer.{ns}.svc.cluster.local"
    assert run.exports["phase"] == "phase2"
    # no load balancer has an address under plain mocks: the external endpoint is null, so the
    # component and the stack carry no value for it
    assert run.exports.get("external_endpoint") is None


def test_external_endpoint_is_the_load_balancer_ingress(harness, monkeypatch):
    """A Service status with a load-balancer ingress (as a cloud controller writes it) becomes
    the LoadBalancer's external_endpoint and the stack output; `endpoint` stays in-cluster."""
    recorder = harness.run_program.__globals__["Recorder"]

    class WithIngress(recorder):
        def new_resource(self, args):
            rid, state = super().new_resource(args)
            if args.typ == "kubernetes:core/v1:Service" and args.name.endswith("/nginx"):
                state["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
            return rid, state

    monkeypatch.setitem(harness.run_program.__globals__, "Recorder", WithIngress)
    monkeypatch.chdir(ROOT)
    run = harness.run_program("phase2")
    lb = normalise(run.component("LoadBalancer"))
    assert lb["external_endpoint"] == "http://203.0.113.7:80"
    assert lb["endpoint"] == "http://nginx.ps-phase2.svc.cluster.local:80"
    assert run.exports["external_endpoint"] == "http://203.0.113.7:80"


@pytest.mark.parametrize(("status", "url"), [
    ({"loadBalancer": {"ingress": [{"hostname": "lb.example.net"}]}}, "http://lb.example.net:80"),
    ({"loadBalancer": {"ingress": [{"ip": "198.51.100.1", "hostname": "x"}]}},
     "http://198.51.100.1:80"),
    ({"loadBalancer": {}}, None), ({}, None), (None, None),
    (SimpleNamespace(load_balancer=SimpleNamespace(ingress=[SimpleNamespace(
        ip=None, hostname="lb.example.net")])), "http://lb.example.net:80"),
])
def test_external_url_from_status(status, url):
    assert load_balancer.external_url(status, 80.0) == url


def test_component_outputs_mvp_without_pgbouncer(program):
    run = program("mvp")
    assert "read_host" not in normalise(run.component("Postgres"))
    assert not [u for u in run.monitor.urns if "phasestack:index:PgBouncer" in u]
    assert run.exports["database_host"] == "postgres.ps-mvp.svc.cluster.local"
    assert run.exports["database_port"] == 5432 and "pgbouncer_host" not in run.exports
    assert normalise(run.component("Redis"))["mode"] == "standalone"
    assert "grafana_url" not in normalise(run.component("Monitoring"))
    assert not any(r.inputs["metadata"]["name"] == "grafana-credentials"
                   for r in run.kube() if r.type == "kubernetes:core/v1:Secret")


def test_kube_context_selects_the_cluster(harness, tmp_path, monkeypatch):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.kindtest.yaml").write_text(
        "config:\n  phasestack:phase: phase1\n  phasestack:namespace: ps-kind\n"
        "  phasestack:kube_context: kind-phasestack\n")
    monkeypatch.chdir(tmp_path)
    run = harness.run_program("kindtest", stacks_root=tmp_path)
    provider = run.of_type("pulumi:providers:kubernetes")[0]
    # mutable ConfigMaps: a config edit is an update (pods roll on the config hash)
    assert provider.inputs == {"context": "kind-phasestack", "namespace": "ps-kind",
                               "enableConfigMapMutable": "true"}
    assert run.exports["namespace"] == "ps-kind"


@pytest.mark.parametrize("retain, expected", [(None, True), ("false", False)])
def test_namespace_and_claims_and_only_they_are_retained_on_delete(program, retain, expected):
    """Deleting a Namespace deletes its PersistentVolumeClaims: retain_data (the default)
    makes a destroy or a namespace change leave it, Prometheus' claim and the CloudNativePG
    Cluster (which owns its claims) in the cluster. The operator's CRDs are never deleted
    (that would delete every Cluster of the cluster)."""
    run = program("phase2", config={} if retain is None else {"phasestack:retain_data": retain})
    retained = {u.split("::")[-1] for u in run.monitor.retained}
    crds = {r for r in retained if r.startswith("customresourcedefinition/")}
    assert len(crds) == 11
    assert retained - crds == ({"namespace/ps-phase2",
                                "persistentvolumeclaim/ps-phase2/prometheus-data",
                                "cluster/ps-phase2/postgres"} if expected else set())


def test_phase3_program_time_under_mocks(program):
    program("phase3")  # warm: imports pulumi_kubernetes modules once
    start = time.perf_counter()
    run = program("phase3")
    elapsed = time.perf_counter() - start
    print(f"\nphase3 program under mocks: {elapsed:.2f} s, {len(run.resources)} resources")
    assert run.kube()


def test_the_nginx_child_keeps_the_urns_of_its_old_name(program):
    """Issue 13: the LoadBalancer child was "lb"; now "nginx" (its catalog key), registered
    with an alias so a stack deployed before keeps its resources instead of replacing them."""
    run = program("phase2")
    [urn] = [u for u in run.monitor.parents if u.endswith("phasestack:index:LoadBalancer::nginx")]
    aliases = run.monitor.aliases[urn]
    assert [a.spec.name for a in aliases] == ["lb"], aliases


def test_postgres_and_pgbouncer_keep_the_urns_of_the_database_child(program):
    """Issue 13: PostgreSQL and PgBouncer were one "database" child; now each is its own
    (key = Pulumi child). Postgres aliases the old child (its resources follow, as children of
    an aliased parent do); each PgBouncer resource names the old child as its old parent."""
    run = program("phase2")
    [pg] = [u for u in run.monitor.parents if u.endswith("phasestack:index:Postgres::postgres")]
    [alias] = run.monitor.aliases[pg]
    assert (alias.spec.name, alias.spec.type) == ("database", "phasestack:index:Database")
    [top] = [u for u in run.monitor.parents if u.split("::")[-2].endswith("index:Topology")]
    old = top.rsplit("::", 1)[0] + "$phasestack:index:Database::database"  # as the engine names it
    pooled = [u for u, parent in run.monitor.parents.items()
              if parent.endswith("phasestack:index:PgBouncer::pgbouncer")]
    assert {u.rsplit("::", 1)[1] for u in pooled} >= {
        "deployment/ps-phase2/pgbouncer", "service/ps-phase2/pgbouncer",
        "configmap/ps-phase2/pgbouncer"}
    for urn in pooled:
        # (pulumi_kubernetes adds its own type aliases: policy/v1beta1, extensions/v1beta1)
        moved = [a.spec.parentUrn for a in run.monitor.aliases[urn] if a.spec.parentUrn]
        assert moved == [old], (urn, run.monitor.aliases[urn])


def test_the_migration_job_waits_for_the_database_and_the_api_waits_for_it(program):
    """issue 14 item 5: under Pulumi the Job runs after PostgreSQL is up and before the API's
    and workers' Deployments change."""
    run = program("shop")
    urns = run.monitor.urns
    (job,) = [u for u in urns if u.split("::")[-2].endswith("batch/v1:Job")]
    deployments = [u for u in urns if u.split("::")[-2].endswith("apps/v1:Deployment")
                   and ("/shop/api" in u or "/shop/worker-" in u)]
    assert {u.rsplit("/", 1)[-1] for u in deployments} == {"api", "worker-emails"}
    for d in deployments:
        assert job in run.monitor.dependencies[d], d
    waits = run.monitor.dependencies[job]
    # the shop's PostgreSQL is managed: the Job waits for its PgBouncer
    assert any(u.endswith("::deployment/shop/pgbouncer") for u in waits), waits
    assert any(u.endswith("::serviceaccount/shop/api-migrate") for u in waits), waits
    # nothing of the API's but ServiceAccounts: its Services wait for its pods (a cycle)
    assert {u.split("::")[-2].rsplit("$", 1)[-1] for u in waits
            if "index:ApiService$" in u} == {"kubernetes:core/v1:ServiceAccount"}


def test_existing_credentials_register_no_secret_and_generate_nothing(program, harness):
    """issue 14 item 8: the team's Secrets; the program makes no password and no Secret."""
    run = program("phase2", {"phasestack:credentials": "existing"})
    assert run.of_type("kubernetes:core/v1:Secret") == []
    assert run.of_type(harness.PASSWORD_TYPE) == []
    assert run.exports["secret_names"] == []
    # the pods still read them by name
    (api,) = [r for r in run.of_type("kubernetes:apps/v1:Deployment")
              if r.inputs["metadata"]["name"] == "api"]
    assert "postgres-credentials" in str(api.inputs["spec"])


def test_managed_data_stores_are_outputs_not_resources(program):
    """issue 14 item 6: a managed PostgreSQL and Redis: no StatefulSet, no generated password;
    the outputs are their endpoints."""
    import json

    run = program("phase1", {
        "phasestack:postgres": json.dumps({"external": {
            "host": "db.example.internal", "password_secret": "shop-db"}}),
        "phasestack:redis": json.dumps({"external": {
            "host": "c.example.cache", "password_secret": "cache"}})})
    assert run.of_type("kubernetes:apps/v1:StatefulSet") == []
    assert {r.name for r in run.of_type("random:")} == {"grafanapassword"}
    assert (run.exports["postgres_host"], run.exports["postgres_port"]) == (
        "db.example.internal", 5432)
    assert (run.exports["redis_host"], run.exports["redis_port"]) == ("c.example.cache", 6379)
    assert run.exports["database_host"] == "pgbouncer.ps-phase1.svc.cluster.local"

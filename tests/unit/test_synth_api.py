"""API synthesizer: replicas/HPA per phase, env wiring, workers, flows, schema validity."""

from __future__ import annotations

import kubernetes_validate
import pytest

from phasestack.model import Stack
from phasestack.phases import preset
from phasestack.stackfile import deep_merge, list_stack_files, load, project_root, stack_name
from phasestack.synth import api
from phasestack.synth.common import Flow

ROOT = project_root()
STACKS = [stack_name(p) for p in list_stack_files(ROOT)]


def stack(name: str) -> Stack:
    return load(name, ROOT).stack


def with_override(phase: str, override: dict) -> Stack:
    return Stack.model_validate(deep_merge(preset(phase), {"phase": phase, "namespace": "t",
                                                            **override}))


def by(docs: list[dict], kind: str, name: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def api_container(docs: list[dict]) -> dict:
    return by(docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("name,replicas,hpa", [
    ("mvp", 2, None), ("phase1", None, (2, 6)), ("phase2", None, (3, 20)),
    ("phase3", None, (10, 40))])
def test_replicas_and_hpa_per_phase(name, replicas, hpa):
    docs = api.manifests(stack(name))
    dep = by(docs, "Deployment", "api")["spec"]
    # with an HPA the Deployment leaves replicas to it: an apply must not reset the count
    assert dep.get("replicas") == replicas and ("replicas" in dep) is (hpa is None)
    hpas = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    if hpa is None:
        assert hpas == []
    else:
        spec = hpas[0]["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == hpa
        assert spec["scaleTargetRef"]["name"] == "api"
        assert spec["scaleTargetRef"]["name"] == "api"
        assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    pdb = by(docs, "PodDisruptionBudget", "api")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_services_and_container_defaults():
    s = stack("phase1")
    docs = api.manifests(s)
    svc = by(docs, "Service", "api")["spec"]
    assert svc["type"] == "ClusterIP" and svc["ports"][0]["port"] == 9898
    headless = by(docs, "Service", "api-headless")["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["selector"] == {"app.kubernetes.io/name": "api"}
    c = api_container(docs)
    assert c["image"] == "ghcr.io/stefanprodan/podinfo:6.7.1"
    assert c["command"][:2] == ["./podinfo", "--port=9898"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "512Mi"}}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    pod = by(docs, "Deployment", "api")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "api"
    # stateless and scaled by an HPA: zone and host spread both preferred (issue 15)
    assert [(t["topologyKey"], t["whenUnsatisfiable"]) for t in pod[
        "topologySpreadConstraints"]] == [("topology.kubernetes.io/zone", "ScheduleAnyway"),
                                          ("kubernetes.io/hostname", "ScheduleAnyway")]


def test_custom_image_keeps_its_entrypoint():
    s = with_override("phase1", {"api": {"image": "registry.example/app:1", "port": 3000}})
    c = api_container(api.manifests(s))
    assert "command" not in c and c["ports"][0]["containerPort"] == 3000
    assert env_of(c)["PORT"]["value"] == "3000"


def test_env_phase1_goes_through_pgbouncer():
    c = api_container(api.manifests(stack("phase1")))
    env = env_of(c)
    names = [e["name"] for e in c["env"]]
    assert names.index("DB_PASSWORD") < names.index("DATABASE_URL")  # $(DB_PASSWORD) expands
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "postgres-credentials", "key": "app-password"}
    assert env["DATABASE_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@pgbouncer.ps-phase1.svc.cluster.local:6432/app")
    assert env["DATABASE_READ_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@pgbouncer.ps-phase1.svc.cluster.local:6432/app_ro")
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-credentials", "key": "redis-password"}
    # the ACL user that cannot FLUSHALL or CONFIG SET (the admin's password is not in the API)
    assert env["REDIS_USERNAME"]["value"] == "app"
    assert env["REDIS_URL"]["value"] == (
        "redis://app:$(REDIS_PASSWORD)@redis.ps-phase1.svc.cluster.local:6379/0")
    assert not [e for e in c["env"] if e.get("valueFrom", {}).get("secretKeyRef", {}).get(
        "key") == "admin-password"]
    assert env["REDIS_CLUSTER_ENABLED"]["value"] == "false"
    assert env["DB_POOL_SIZE"]["value"] == "20"


def test_env_mvp_goes_direct_to_postgres():
    env = env_of(api_container(api.manifests(stack("mvp"))))
    url = "postgresql://app:$(DB_PASSWORD)@postgres.ps-mvp.svc.cluster.local:5432/app"
    assert env["DATABASE_URL"]["value"] == url
    assert env["DATABASE_READ_URL"]["value"] == url  # no replicas: reads go to the primary
    # review 002, Recommendation 3: pool 50 per API process in the MVP
    assert env["DB_POOL_SIZE"]["value"] == "50"
    assert "REDIS_CLUSTER_NODES" not in env


def test_env_replicas_without_pgbouncer_read_from_postgres_ro():
    s = with_override("mvp", {"postgres": {"read_replicas": 2}})
    env = env_of(api_container(api.manifests(s)))
    assert env["DATABASE_URL"]["value"].endswith("@postgres.t.svc.cluster.local:5432/app")
    assert env["DATABASE_READ_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@postgres-ro.t.svc.cluster.local:5432/app")
    assert Flow("api", "postgres-replica", 5432) in api.flows(s)


@pytest.mark.parametrize("name,pods", [("phase2", 6), ("phase3", 12)])
def test_redis_cluster_nodes(name, pods):
    """Three seeds whatever the cluster's size (review 002's example names three): a client
    learns the other nodes from CLUSTER SLOTS, and growing the cluster changes no workload."""
    s = stack(name)
    assert s.redis.pods == pods
    env = env_of(api_container(api.manifests(s)))
    assert env["REDIS_CLUSTER_ENABLED"]["value"] == "true"
    assert "REDIS_URL" not in env
    assert env["REDIS_CLUSTER_NODES"]["value"].split(",") == [
        f"redis-{i}.redis-headless.ps-{name}.svc.cluster.local:6379" for i in range(3)]


def test_workers():
    s = with_override("phase1", {"api": {"workers": [
        {"name": "email", "replicas": 2}, {"name": "sync", "command": ["node", "worker.js"]}]}})
    docs = api.manifests(s)
    email = by(docs, "Deployment", "worker-email")
    assert email["spec"]["replicas"] == 2
    assert by(docs, "PodDisruptionBudget", "worker-email")
    assert not [d for d in docs if d["metadata"]["name"] == "worker-sync"
                and d["kind"] in ("Service", "PodDisruptionBudget")]
    sync = by(docs, "Deployment", "worker-sync")["spec"]["template"]["spec"]["containers"][0]
    assert sync["command"] == ["node", "worker.js"]
    assert "exec" in sync["livenessProbe"] and "/tmp/worker-heartbeat" in str(sync["livenessProbe"])
    env = env_of(sync)
    assert env["WORKER_QUEUE"]["value"] == "sync"
    assert env["DATABASE_URL"] == env_of(api_container(docs))["DATABASE_URL"]
    demo = email["spec"]["template"]["spec"]["containers"][0]
    assert demo["livenessProbe"]["exec"]["command"][:3] == ["podcli", "check", "http"]
    assert not [d for d in docs if d["kind"] == "Service" and "worker" in d["metadata"]["name"]]
    flows = api.flows(s)
    assert Flow("worker-sync", "pgbouncer", 6432) in flows
    assert Flow("worker-sync", "redis", 6379) in flows
    for d in docs:
        kubernetes_validate.validate(d, "1.30", strict=True)


def test_flows():
    assert set(api.flows(stack("mvp"))) == {
        Flow("nginx", "api", 9898), Flow("api", "postgres", 5432), Flow("api", "redis", 6379)}
    assert set(api.flows(stack("phase2"))) == {
        Flow("nginx", "api", 9898), Flow("api", "pgbouncer", 6432), Flow("api", "redis", 6379)}


def test_namespace_and_labels():
    for d in api.manifests(stack("phase2")):
        assert d["metadata"]["namespace"] == "ps-phase2"
        assert d["metadata"]["labels"]["app.kubernetes.io/name"] == "api"


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_manifests_validate_strict(name, version):
    docs = api.manifests(stack(name))
    assert docs
    for d in docs:
        kubernetes_validate.validate(d, version, strict=True)


@pytest.mark.parametrize("name", STACKS)
def test_api_pod_drains_before_it_stops(name):
    """An API pod sleeps in preStop until nginx can no longer pick it (its resolver re-resolves
    the headless Service every 10 s; CoreDNS caches 5 s), then has the whole proxy read timeout
    to finish what it holds: a POST in flight is never cut (nginx retries only idempotent ones)."""
    s = stack(name)
    spec = by(api.manifests(s), "Deployment", "api")["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert spec["terminationGracePeriodSeconds"] == 15 + s.request_timeout_s + 5
    assert s.request_timeout_s == s.postgres.statement_timeout_s + 5


def test_a_managed_postgresql_is_reached_directly_with_its_sslmode():
    managed = {"external": {"host": "db.example.internal", "read_host": "ro.example.internal",
                            "password_secret": "shop-db", "password_key": "pw"}}
    stack = Stack.for_phase("mvp", namespace="t", postgres=managed)
    env = {e["name"]: e for e in api.env(stack)}
    assert env["DATABASE_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@db.example.internal:5432/app?sslmode=require")
    assert env["DATABASE_READ_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@ro.example.internal:5432/app?sslmode=require")
    assert env["DB_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "shop-db",
                                                                "key": "pw"}}
    assert "postgres" not in {f.dst for f in api.flows(stack)}
    # behind PgBouncer the app's URLs are PgBouncer's, as in the cluster
    pooled = Stack.for_phase("phase1", namespace="t", postgres=managed)
    assert "pgbouncer.t.svc" in {e["name"]: e for e in api.env(pooled)}["DATABASE_URL"]["value"]


def test_a_managed_redis_url_and_cluster_seed():
    cache = {"host": "c.example.cache", "port": 6380, "password_secret": "cache",
             "username": "shop"}
    stack = Stack.for_phase("mvp", namespace="t", redis={"external": cache})
    env = {e["name"]: e for e in api.env(stack)}
    assert env["REDIS_URL"]["value"] == "rediss://shop:$(REDIS_PASSWORD)@c.example.cache:6380/0"
    assert env["REDIS_TLS"]["value"] == "true"
    assert env["REDIS_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "cache",
                                                                   "key": "password"}}
    assert "redis" not in {f.dst for f in api.flows(stack)}
    cluster = Stack.for_phase("phase2", namespace="t", redis={"external": {
        **cache, "tls": False, "username": None}})
    env = {e["name"]: e for e in api.env(cluster)}
    assert env["REDIS_CLUSTER_NODES"]["value"] == "c.example.cache:6380"
    assert env["REDIS_TLS"]["value"] == "false" and "REDIS_USERNAME" not in env
    # in the cluster nothing changes: no REDIS_TLS
    assert "REDIS_TLS" not in {e["name"] for e in api.env(Stack.for_phase("mvp"))}

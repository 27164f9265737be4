"""phasestack.targets.docker: the docker-compose rendering of an MVP stack (single Docker host)."""

from __future__ import annotations

import re

import pytest
import yaml

from phasestack import stackfile
from phasestack.synth import prometheus, secrets, synthesize
from phasestack.targets import docker as compose

ROOT = stackfile.project_root()


@pytest.fixture
def files():
    return compose.compose_files(stackfile.load("mvp-docker", ROOT).stack)


def test_files_and_services(files):
    assert sorted(files) == ["alerts.yml", "docker-compose.yml", "init-roles.sh", "init-roles.sql",
                             "nginx.conf", "pg_hba.conf", "postgresql.conf", "prometheus.yml",
                             "redis.conf"]
    doc = yaml.safe_load(files["docker-compose.yml"])
    assert list(doc["services"]) == ["api", "nginx", "nginx-exporter", "redis",
                                     "redis-exporter", "postgres", "postgres-exporter",
                                     "prometheus"]
    svc = doc["services"]
    # review 002, Recommended MVP Launch Configuration: api replicas 2 "Minimum 2 for HA"
    assert svc["api"]["deploy"]["replicas"] == 2
    assert svc["api"]["image"] == "ghcr.io/stefanprodan/podinfo:6.7.1"
    assert svc["nginx"]["ports"] == ["80:8080"]
    assert svc["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert svc["redis-exporter"]["network_mode"] == "service:redis"
    assert set(doc["volumes"]) == {"redis_data", "postgres_data", "prometheus_data"}


def test_volumes_mount_every_rendered_file(files):
    doc = yaml.safe_load(files["docker-compose.yml"])
    mounted = {}
    for svc in doc["services"].values():
        for spec in svc.get("volumes", []):
            src, dst, *mode = spec.split(":")
            if src.startswith("./"):
                assert mode == ["ro"]
                mounted[src[2:]] = dst
    assert mounted == {
        "nginx.conf": "/etc/nginx/phasestack/nginx.conf", "redis.conf": "/etc/redis/redis.conf",
        "postgresql.conf": "/etc/postgresql/postgresql.conf",
        "pg_hba.conf": "/etc/postgresql/pg_hba.conf",
        "init-roles.sql": "/etc/postgresql/init-roles.sql",
        "init-roles.sh": "/docker-entrypoint-initdb.d/10-init-roles.sh",
        "prometheus.yml": "/etc/prometheus/prometheus.yml",
        "alerts.yml": "/etc/prometheus/alerts.yml"}  # the mvp loads its rules (issue 15)
    assert set(mounted) == set(files) - {"docker-compose.yml"}
    assert "postgres_data:/var/lib/postgresql/data" in doc["services"]["postgres"]["volumes"]


def test_credentials_are_environment_references_only(files):
    text = files["docker-compose.yml"]
    doc = yaml.safe_load(text)
    env = doc["services"]["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"] == ("${PHASESTACK_POSTGRES_PASSWORD:?set "
                                        "PHASESTACK_POSTGRES_PASSWORD}")
    api_env = doc["services"]["api"]["environment"]
    assert api_env["DATABASE_URL"].startswith("postgresql://app:${PHASESTACK_APP_PASSWORD:?")
    assert api_env["DATABASE_URL"].endswith("}@postgres:5432/app")
    refs = set(re.findall(r"\$\{(PHASESTACK_[A-Z_]+):\?", text))
    assert refs == {secrets.env_var(c) for c in
                    ("postgresPassword", "appPassword", "replicationPassword", "monitorPassword",
                     "redisPassword", "redisAdminPassword")}
    # the shell variable in redis' command is escaped from compose interpolation
    assert '"$$REDIS_ADMIN_PASSWORD"' in doc["services"]["redis"]["command"][2]
    assert '">$$REDIS_PASSWORD"' in doc["services"]["redis"]["command"][2]
    # no credential in any mounted file: redis gets requirepass from its environment
    assert not re.search(r"^requirepass", files["redis.conf"], re.M)


def test_prometheus_targets_are_compose_services(files):
    conf = yaml.safe_load(files["prometheus.yml"])
    names = {job["job_name"]: job["dns_sd_configs"][0]["names"]
             for job in conf["scrape_configs"] if "dns_sd_configs" in job}
    assert names == {"api": ["api"], "nginx": ["nginx"], "redis": ["redis"],
                     "postgres": ["postgres"]}
    assert "svc.cluster.local" not in files["prometheus.yml"]
    stack = stackfile.load("mvp-docker", ROOT).stack
    assert [j.name for j in prometheus.jobs(stack)] == list(names)


def test_nginx_uses_a_static_upstream_of_the_api_service(files):
    assert "server api:9898" in files["nginx.conf"]
    assert " resolve" not in files["nginx.conf"]


@pytest.mark.parametrize("name", ["phase1", "phase2", "phase3"])
def test_refuses_shapes_a_single_host_cannot_run(name):
    with pytest.raises(ValueError, match="docker target renders the MVP shape"):
        compose.compose_files(stackfile.load(name, ROOT).stack)


def test_postgres_exporter_collects_statement_latency(files):
    # the query-latency alert (review 002, Required Metrics) reads pg_stat_statements
    doc = yaml.safe_load(files["docker-compose.yml"])
    assert doc["services"]["postgres-exporter"]["command"] == ["--collector.stat_statements"]


def test_every_service_but_postgres_runs_as_its_pods_user(files):
    svc = yaml.safe_load(files["docker-compose.yml"])["services"]
    # the Kubernetes pods' runAsUser (sidecars as their pod's), from the synthesizers
    assert {name: s.get("user") for name, s in svc.items()} == {
        "api": "10001:10001", "nginx": "101:101", "nginx-exporter": "101:101",
        "redis": "999:999", "redis-exporter": "999:999", "postgres": None,
        "postgres-exporter": "70:70", "prometheus": "65534:65534"}
    stack = stackfile.load("mvp-docker", ROOT).stack
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
            for d in synthesize(stack, {c: "x" * 16 for c in secrets.CREDENTIALS})
            if d["kind"] in ("Deployment", "StatefulSet")}
    for name in ("api", "nginx", "redis", "prometheus"):
        assert svc[name]["user"] == f"{pods[name]}:{pods[name]}"
    assert svc["postgres-exporter"]["user"] == f"{pods['postgres']}:{pods['postgres']}"
    # redis keeps the shell that expands its password, so the image's entrypoint never drops
    # privileges itself: the container must start as the redis user
    assert svc["redis"]["command"][:2] == ["sh", "-c"]
    assert svc["redis"]["command"][2].startswith("exec redis-server /etc/redis/redis.conf ")
    # postgres starts as root only so its entrypoint can own PGDATA; it then runs `postgres`,
    # which the entrypoint starts as the postgres user
    assert svc["postgres"]["command"][0] == "postgres"


def test_only_postgres_has_a_writable_root_filesystem(files):
    svc = yaml.safe_load(files["docker-compose.yml"])["services"]
    assert [n for n, s in svc.items() if not s.get("read_only")] == ["postgres"]
    assert all(s["security_opt"] == ["no-new-privileges:true"] for s in svc.values())
    # nginx as uid 101 writes its pid and temp files only to the tmpfs
    assert svc["nginx"]["tmpfs"] == ["/tmp"]
    assert "pid /tmp/nginx.pid;" in files["nginx.conf"]


def test_limits_reservations_and_healthchecks_come_from_the_stack(files):
    """Issue 15: each container gets its pod's limits and requests, and the servers a check
    with their image's own tools; the API's image is the team's (its own HEALTHCHECK)."""
    stack = stackfile.load("mvp-docker", ROOT).stack
    svc = yaml.safe_load(files["docker-compose.yml"])["services"]
    a = stack.api.resources
    assert svc["api"]["deploy"] == {"replicas": 2, "resources": {
        "limits": {"cpus": "1", "memory": "512M"},
        "reservations": {"cpus": "0.25", "memory": "256M"}}}
    assert (a.cpu_limit, a.memory_limit, a.cpu_request, a.memory_request) == (
        "1", "512Mi", "250m", "256Mi")
    # an exporter sidecar: the pods' sidecar size
    assert svc["redis-exporter"]["deploy"]["resources"]["limits"] == {"cpus": "0.2",
                                                                     "memory": "64M"}
    checks = {name: s["healthcheck"]["test"] for name, s in svc.items() if "healthcheck" in s}
    assert checks == {
        "nginx": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8081/stub_status"],
        "redis": ["CMD-SHELL", 'REDISCLI_AUTH="$$REDIS_ADMIN_PASSWORD" redis-cli ping '
                               "| grep -q PONG"],
        "postgres": ["CMD-SHELL", "pg_isready -q -h 127.0.0.1 -p 5432 -U postgres"],
        "prometheus": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:9090/-/ready"]}
    assert svc["redis"]["healthcheck"]["retries"] == 3
    assert stack.postgres.resources.memory_limit == "2Gi"
    assert svc["postgres"]["deploy"]["resources"] == {
        "limits": {"cpus": "2", "memory": "2048M"}, "reservations": {"cpus": "0.5",
                                                                    "memory": "1024M"}}

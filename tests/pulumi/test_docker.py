"""The docker target under mocks: one network, one container per service, uploaded configs."""

from __future__ import annotations

import json

from pulumi.runtime import rpc

from phasestack import compose, stackfile

STACK = "mvp-docker"
PREFIX = "ps-mvp-docker"
ROOT = stackfile.project_root()


def containers(run) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in run.of_type("docker:index/container:Container")}


def test_registers_network_and_one_container_per_service(program):
    run = program(STACK)
    nets = run.of_type("docker:index/network:Network")
    assert [n.inputs["name"] for n in nets] == [PREFIX]
    got = containers(run)
    assert sorted(got) == sorted(f"{PREFIX}-{n}" for n in (
        "api-0", "api-1", "nginx", "nginx-exporter", "redis", "redis-exporter", "postgres",
        "postgres-exporter", "prometheus"))
    assert not run.kube()  # the docker target registers no Kubernetes resources
    for name in ("api-0", "api-1"):
        assert got[f"{PREFIX}-{name}"]["networksAdvanced"] == [{"name": PREFIX,
                                                                 "aliases": ["api"]}]
    assert got[f"{PREFIX}-nginx"]["ports"] == [{"internal": 8080, "external": 80}]
    assert got[f"{PREFIX}-redis-exporter"]["networkMode"] == f"container:{PREFIX}-redis"
    assert run.exports["containers"] == sorted(got)
    assert run.exports["endpoint"] == "http://localhost:80"
    for res in run.of_type("docker:index/container:Container"):
        assert run.parent_type(res) == "phasestack:index:DockerHost"


def test_uploaded_configs_are_the_rendered_files(program):
    run = program(STACK)
    files = compose.config_files(stackfile.load(STACK, ROOT).stack)
    got = containers(run)
    uploads = {u["file"]: u["content"] for c in got.values() for u in c.get("uploads", [])}
    assert uploads == {
        "/etc/nginx/phasestack/nginx.conf": files["nginx.conf"],
        "/etc/redis/redis.conf": files["redis.conf"],
        "/etc/postgresql/postgresql.conf": files["postgresql.conf"],
        "/etc/postgresql/pg_hba.conf": files["pg_hba.conf"],
        "/etc/postgresql/init-roles.sql": files["init-roles.sql"],
        "/docker-entrypoint-initdb.d/10-init-roles.sh": files["init-roles.sh"],
        "/etc/prometheus/prometheus.yml": files["prometheus.yml"],
    }
    assert "server api:9898" in files["nginx.conf"]
    volumes = {v.inputs["name"]
               for v in run.of_type("docker:index/volume:Volume")}
    assert volumes == {f"{PREFIX}-redis_data", f"{PREFIX}-postgres_data",
                       f"{PREFIX}-prometheus_data"}


def test_container_credentials_are_secret(program):
    run = program(STACK)
    values = list(run.mocks.passwords.values())
    assert len(values) == 4  # postgres, app, replication, redis (no Grafana on the mvp)
    got = containers(run)
    pg_env = got[f"{PREFIX}-postgres"]["envs"]
    assert rpc.is_rpc_secret(pg_env)
    assert f"POSTGRES_PASSWORD={run.mocks.passwords['postgrespassword']}" in pg_env["value"]
    for res in run.resources:
        plain = {k: v for k, v in res.inputs.items() if not rpc.is_rpc_secret(v)}
        for value in values:
            assert value not in json.dumps(plain, default=str), res.name

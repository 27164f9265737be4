"""The docker target under mocks: one network, one container per service, config files in
read-only volumes filled by never-started loader containers."""

from __future__ import annotations

import json

import yaml
from pulumi.runtime import rpc

from phasestack import stackfile
from phasestack.targets import docker as compose

STACK = "mvp-docker"
PREFIX = "ps-mvp-docker"
ROOT = stackfile.project_root()


def containers(run) -> dict[str, dict]:
    """The running containers (loaders are created with start false)."""
    return {r.inputs["name"]: r.inputs for r in run.of_type("docker:index/container:Container")
            if r.inputs.get("start") is not False}


def loaders(run) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in run.of_type("docker:index/container:Container")
            if r.inputs.get("start") is False}


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
    assert not any("uploads" in c for c in containers(run).values())
    got = loaders(run)
    assert sorted(got) == [f"{PREFIX}-{n}-config" for n in ("nginx", "postgres", "prometheus",
                                                              "redis")]
    for loader in got.values():
        assert (loader["start"], loader["mustRun"], loader["networkMode"]) == (False, False,
                                                                               "none")
    uploads = {u["file"]: u["content"] for c in got.values() for u in c.get("uploads", [])}
    assert uploads == {
        "/etc/nginx/phasestack/nginx.conf": files["nginx.conf"],
        "/etc/redis/redis.conf": files["redis.conf"],
        "/etc/postgresql/postgresql.conf": files["postgresql.conf"],
        "/etc/postgresql/pg_hba.conf": files["pg_hba.conf"],
        "/etc/postgresql/init-roles.sql": files["init-roles.sql"],
        "/docker-entrypoint-initdb.d/10-init-roles.sh": files["init-roles.sh"],
        "/etc/prometheus/prometheus.yml": files["prometheus.yml"],
        "/etc/prometheus/alerts.yml": files["alerts.yml"],
    }
    assert "server api:9898" in files["nginx.conf"]
    volumes = {v.inputs["name"]
               for v in run.of_type("docker:index/volume:Volume")}
    assert volumes == {f"{PREFIX}-redis_data", f"{PREFIX}-postgres_data",
                       f"{PREFIX}-prometheus_data", f"{PREFIX}-nginx-etc-nginx-phasestack",
                       f"{PREFIX}-redis-etc-redis", f"{PREFIX}-postgres-etc-postgresql",
                       f"{PREFIX}-postgres-docker-entrypoint-initdb.d",
                       f"{PREFIX}-prometheus-etc-prometheus"}


def _mounts(c: dict) -> dict[str, tuple[str, bool]]:
    return {v["containerPath"]: (v["volumeName"], bool(v.get("readOnly"))) for v in c["volumes"]}


def test_config_files_are_read_only_as_in_compose(program):
    run = program(STACK)
    got, load = containers(run), loaders(run)
    doc = yaml.safe_load(compose.compose_files(stackfile.load(STACK, ROOT).stack)[
        "docker-compose.yml"])["services"]
    # the same root filesystems are writable as under compose: postgres' only
    assert sorted(n for n, c in got.items() if not c["readOnly"]) == [f"{PREFIX}-postgres"]
    assert sorted(n for n, s in doc.items() if not s.get("read_only")) == ["postgres"]
    # every directory a loader fills is mounted read-only by its service, nothing else is
    for service in ("nginx", "redis", "postgres", "prometheus"):
        loader = _mounts(load[f"{PREFIX}-{service}-config"])
        mounts = _mounts(got[f"{PREFIX}-{service}"])
        assert {p: (v, True) for p, (v, _) in loader.items()} == {
            p: m for p, m in mounts.items() if m[1]}
        assert not any(ro for _, ro in loader.values())  # the loader writes them
        compose_files = [v.split(":")[1] for v in doc[service]["volumes"] if v.startswith("./")]
        assert all(any(f.startswith(d + "/") for d in loader) for f in compose_files)
    assert _mounts(got[f"{PREFIX}-postgres"])["/var/lib/postgresql/data"] == (
        f"{PREFIX}-postgres_data", False)
    # a changed file changes the label, so the service's container is replaced
    labels = {n: c.get("labels") for n, c in got.items()}
    assert labels[f"{PREFIX}-nginx"][0]["label"] == "phasestack.config-sha256"
    assert len(labels[f"{PREFIX}-nginx"][0]["value"]) == 64
    assert labels[f"{PREFIX}-api-0"] is None


def test_containers_run_as_the_compose_users(program):
    run = program(STACK)
    users = {s.name: s.user for s in compose.services(stackfile.load(STACK, ROOT).stack)}
    got = containers(run)
    for name, c in got.items():
        service = name.removeprefix(f"{PREFIX}-").removesuffix("-0").removesuffix("-1")
        assert c.get("user") == users[service], name
    assert got[f"{PREFIX}-redis"]["user"] == "999:999"
    assert "user" not in got[f"{PREFIX}-postgres"]


def test_container_credentials_are_secret(program):
    run = program(STACK)
    values = list(run.mocks.passwords.values())
    # postgres, app, replication, monitor, redis app and admin (no Grafana on the mvp)
    assert len(values) == 6
    got = containers(run)
    pg_env = got[f"{PREFIX}-postgres"]["envs"]
    assert rpc.is_rpc_secret(pg_env)
    assert f"POSTGRES_PASSWORD={run.mocks.passwords['postgrespassword']}" in pg_env["value"]
    for res in run.resources:
        plain = {k: v for k, v in res.inputs.items() if not rpc.is_rpc_secret(v)}
        for value in values:
            assert value not in json.dumps(plain, default=str), res.name


def test_containers_get_the_compose_limits_and_healthchecks(program):
    """Issue 15: the Docker component and `render --format compose` size and check alike."""
    got = containers(program(STACK))
    svc = yaml.safe_load(compose.compose_files(stackfile.load(STACK, ROOT).stack)[
        "docker-compose.yml"])["services"]
    for name, inputs in got.items():
        service = name.removeprefix(f"{PREFIX}-").removesuffix("-0").removesuffix("-1")
        limits = svc[service]["deploy"]["resources"]
        assert inputs["cpus"] == limits["limits"]["cpus"], name
        assert inputs["memory"] == int(limits["limits"]["memory"][:-1]), name
        assert inputs["memoryReservation"] == int(limits["reservations"]["memory"][:-1]), name
        check = svc[service].get("healthcheck")
        if check is None:
            assert "healthcheck" not in inputs, name
            continue
        # compose doubles $ for its own interpolation; docker gets the command as is
        assert inputs["healthcheck"] == {
            "tests": [check["test"][0], check["test"][1].replace("$$", "$")],
            "interval": "10s", "timeout": "5s", "retries": 3, "startPeriod": "30s"}, name
    assert got[f"{PREFIX}-postgres"]["memory"] == 2048

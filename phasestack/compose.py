"""Single-host (docker) rendering of an MVP stack: docker-compose.yml plus its config files.

Pure (no pulumi import). The config files are the synthesizers' own texts (nginx.conf with a
static upstream, redis.conf, postgresql.conf, prometheus.yml with compose service names), so
the docker target runs what the cluster runs. `services()` is the one model both outputs use:
`compose_files()` writes it as compose YAML (credentials as ${PHASESTACK_...} references that
compose fills from the environment, never values) and components.docker_host turns it into
Pulumi docker Containers (credentials as secret Outputs).

Shape mirrors review 000 (000_f42598e3354b7376.txt), "docker-compose.prod.yml" (backend
replicas behind nginx, postgres and redis with named volumes), and review 002
(002_f99052a1f9a0162e.txt), "Recommended MVP Launch Configuration" (api replicas 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from phasestack.model import Stack
from phasestack.synth import api, nginx, postgres, postgres_config, prometheus, redis, secrets
from phasestack.synth.common import API, IMAGES, NGINX, PORTS, POSTGRES, PROMETHEUS, REDIS, dns

# review 000 (000_f42598e3354b7376.txt), docker-compose.prod.yml: nginx publishes port 80
HTTP_HOST_PORT = 80


@dataclass(frozen=True)
class Ref:
    """A credential (secrets.CREDENTIALS name) the environment supplies at deploy time."""

    credential: str

    @property
    def env_var(self) -> str:
        return secrets.env_var(self.credential)


Value = str | Ref | tuple  # a tuple joins str and Ref parts (a URL holding a password)


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    command: list[str] | None = None          # literal; $VAR is expanded by the container shell
    environment: dict[str, Value] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)          # "host:container"
    files: dict[str, str] = field(default_factory=dict)     # container path -> file name
    volumes: dict[str, str] = field(default_factory=dict)   # named volume -> container path
    tmpfs: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    replicas: int = 1
    read_only: bool = True
    sidecar_of: str | None = None   # shares that service's network namespace, like a pod


def check(stack: Stack) -> None:
    unsupported = [what for what, on in (
        ("pgbouncer", stack.pgbouncer.enabled), ("read replicas", stack.postgres.read_replicas),
        ("grafana", stack.monitoring.grafana), ("workers", stack.api.workers),
        ("redis cluster", stack.redis.mode == "cluster"), ("api hpa", stack.api.hpa.enabled),
        ("nginx hpa", stack.nginx.hpa.enabled)) if on]
    if unsupported:
        raise ValueError(f"the docker target renders the MVP shape; this stack also has: "
                         f"{', '.join(unsupported)} (use the kubernetes target)")


def config_files(stack: Stack) -> dict[str, str]:
    """File name -> text, each rendered by its synthesizer with compose endpoints."""
    check(stack)
    files = {
        "nginx.conf": nginx.nginx_conf(stack, upstreams=[f"{API}:{stack.api.port}"]),
        "redis.conf": redis.redis_conf(stack, dir=redis.DATA_DIR),
        "postgresql.conf": postgres_config.postgresql_conf(stack),
        "pg_hba.conf": postgres_config.pg_hba(stack),
        "init-roles.sql": postgres_config.init_sql(stack),
        "init-roles.sh": postgres_config.init_script(stack),
        "prometheus.yml": _prometheus_yml(stack),
    }
    if stack.monitoring.alerts:
        files[prometheus.RULES_FILE] = prometheus.alert_rules(stack)
    return files


def _prometheus_yml(stack: Stack) -> str:
    """The cluster prometheus.yml with each job's DNS name swapped for its compose service
    (docker's DNS answers one A record per replica, as the headless Service does)."""
    text = prometheus.prometheus_yml(stack)
    for job in prometheus.jobs(stack):
        cluster_name = dns(stack, job.service)
        if cluster_name not in text:
            raise ValueError(f"prometheus.yml has no target {cluster_name}")
        text = text.replace(cluster_name, job.pod)
    return text


def _database_url(stack: Stack) -> tuple:
    pg = stack.postgres
    return (f"postgresql://{pg.app_user}:", Ref("appPassword"),
            f"@{POSTGRES}:{PORTS.postgres}/{pg.database}")


def services(stack: Stack) -> list[Service]:
    check(stack)
    a, pg = stack.api, stack.postgres
    api_cmd = api.api_container(stack).get("command")
    out = [
        Service(API, a.image, command=api_cmd, replicas=a.replicas, tmpfs=[api.TMP],
                environment={
                    "PORT": str(a.port), "DATABASE_URL": _database_url(stack),
                    "DATABASE_READ_URL": _database_url(stack),
                    # review 002 (002_f99052a1f9a0162e.txt), Recommendation 3: DB_POOL_SIZE
                    "DB_POOL_SIZE": str(stack.app.app_pool_per_pod),
                    "REDIS_CLUSTER_ENABLED": "false",
                    "REDIS_URL": ("redis://:", Ref("redisPassword"),
                                  f"@{REDIS}:{PORTS.redis}/0")},
                depends_on=[POSTGRES, REDIS]),
        Service(NGINX, stack.nginx.image,
                command=["nginx", "-e", "stderr", "-c", f"{nginx.CONF_DIR}/nginx.conf"],
                ports=[f"{HTTP_HOST_PORT}:{PORTS.nginx_http}"],
                files={f"{nginx.CONF_DIR}/nginx.conf": "nginx.conf"}, tmpfs=[nginx.TMP],
                depends_on=[API]),
        Service("nginx-exporter", IMAGES.nginx_exporter, sidecar_of=NGINX, command=[
            f"--nginx.scrape-uri=http://127.0.0.1:{PORTS.nginx_status}/stub_status",
            f"--web.listen-address=:{PORTS.nginx_exporter}"]),
        Service(REDIS, stack.redis.image, command=[
            "sh", "-c", f'exec redis-server {redis.CONF_DIR}/redis.conf '
            '--requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"'],
            environment={"REDIS_PASSWORD": Ref("redisPassword")},
            files={f"{redis.CONF_DIR}/redis.conf": "redis.conf"},
            volumes={"redis_data": redis.DATA_DIR}),
        Service("redis-exporter", IMAGES.redis_exporter, sidecar_of=REDIS, environment={
            "REDIS_ADDR": f"redis://localhost:{PORTS.redis}",
            "REDIS_PASSWORD": Ref("redisPassword")}),
        Service(POSTGRES, pg.image,
                command=["postgres", "-c",
                         f"config_file={postgres_config.CONFIG_DIR}/postgresql.conf"],
                environment={"PGDATA": postgres.PGDATA,
                             "POSTGRES_PASSWORD": Ref("postgresPassword"),
                             "APP_PASSWORD": Ref("appPassword"),
                             "REPLICATION_PASSWORD": Ref("replicationPassword")},
                files={**{f"{postgres_config.CONFIG_DIR}/{n}": n
                          for n in ("postgresql.conf", "pg_hba.conf", "init-roles.sql")},
                       f"{postgres.INITDB_DIR}/10-init-roles.sh": "init-roles.sh"},
                volumes={"postgres_data": postgres.DATA_MOUNT},
                tmpfs=["/tmp", postgres_config.SOCKET_DIR], read_only=False),
        Service("postgres-exporter", IMAGES.postgres_exporter, sidecar_of=POSTGRES,
                command=list(postgres.EXPORTER_ARGS), environment={
            "DATA_SOURCE_URI": f"127.0.0.1:{PORTS.postgres}/postgres?sslmode=disable",
            "DATA_SOURCE_USER": "postgres", "DATA_SOURCE_PASS": Ref("postgresPassword")}),
    ]
    if stack.monitoring.prometheus:
        conf = prometheus.CONFIG_DIR
        rules = {f"{conf}/{prometheus.RULES_FILE}": prometheus.RULES_FILE} \
            if stack.monitoring.alerts else {}
        out.append(Service(
            PROMETHEUS, IMAGES.prometheus,
            command=[f"--config.file={conf}/prometheus.yml",
                     f"--storage.tsdb.path={prometheus.DATA_DIR}",
                     f"--storage.tsdb.retention.time={stack.monitoring.retention}"],
            ports=[f"127.0.0.1:{PORTS.prometheus}:{PORTS.prometheus}"],
            files={f"{conf}/prometheus.yml": "prometheus.yml", **rules},
            volumes={"prometheus_data": prometheus.DATA_DIR},
            depends_on=[API, NGINX, REDIS, POSTGRES]))
    return out


def parts(value: Value) -> list[str | Ref]:
    return list(value) if isinstance(value, tuple) else [value]


def _compose_value(value: Value) -> str:
    out = []
    for part in parts(value):
        if isinstance(part, Ref):
            out.append(f"${{{part.env_var}:?set {part.env_var}}}")
        else:
            out.append(part.replace("$", "$$"))
    return "".join(out)


def _compose_service(svc: Service) -> dict:
    body: dict = {"image": svc.image, "restart": "unless-stopped"}
    if svc.command:
        body["command"] = [c.replace("$", "$$") for c in svc.command]
    if svc.environment:
        body["environment"] = {k: _compose_value(v) for k, v in svc.environment.items()}
    if svc.sidecar_of:
        body["network_mode"] = f"service:{svc.sidecar_of}"
        body["depends_on"] = [svc.sidecar_of]
    if svc.ports:
        body["ports"] = list(svc.ports)
    mounts = [f"./{name}:{path}:ro" for path, name in svc.files.items()]
    mounts += [f"{vol}:{path}" for vol, path in svc.volumes.items()]
    if mounts:
        body["volumes"] = mounts
    if svc.tmpfs:
        body["tmpfs"] = list(svc.tmpfs)
    if svc.read_only:
        body["read_only"] = True
    body["security_opt"] = ["no-new-privileges:true"]
    if svc.depends_on:
        body["depends_on"] = list(svc.depends_on)
    if svc.replicas != 1:
        body["deploy"] = {"replicas": svc.replicas}
    return body


def compose_files(stack: Stack) -> dict[str, str]:
    """Relative file name -> text: docker-compose.yml and every file it mounts."""
    files = config_files(stack)
    svcs = services(stack)
    doc = {
        "name": f"phasestack-{stack.namespace}",
        "services": {s.name: _compose_service(s) for s in svcs},
        "volumes": {vol: {} for s in svcs for vol in s.volumes},
    }
    header = ("# Rendered by phasestack for the single-host (docker) target; do not edit.\n"
              "# Credentials come from the environment: "
              + ", ".join(secrets.env_var(c) for c in _refs(svcs)) + ".\n")
    files["docker-compose.yml"] = header + yaml.safe_dump(doc, sort_keys=False, width=100)
    return files


def _refs(svcs: list[Service]) -> list[str]:
    found = {p.credential for s in svcs for v in s.environment.values() for p in parts(v)
             if isinstance(p, Ref)}
    return [c for c in secrets.CREDENTIALS if c in found]

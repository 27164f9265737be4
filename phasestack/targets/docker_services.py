"""The docker target's service model: one Service per container (image, command, environment
with credential references, config files, volumes, user), shared by phasestack.targets.docker (which
writes it as docker-compose.yml) and phasestack.components.docker_host (Pulumi docker
Containers). Pure.

Shape mirrors review 000 (000_f42598e3354b7376.txt), "docker-compose.prod.yml" (backend
replicas behind nginx, postgres and redis with named volumes), and review 002
(002_f99052a1f9a0162e.txt), "Recommended MVP Launch Configuration" (api replicas 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phasestack.errors import ShapeError
from phasestack.model import MONITOR_USER, Resources, Stack
from phasestack.synth import api, nginx, postgres, postgres_config, prometheus, redis, secrets
from phasestack.synth.common import API, NGINX, PORTS, POSTGRES, PROMETHEUS, REDIS, SIDECAR

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
    user: str | None = None         # "uid:gid"; None only where the image must start as root
    resources: Resources = SIDECAR  # limits and reservations: the pod's (issue 15)
    # a shell command inside the container that exits 0 when it serves (the pinned images'
    # own tools); None: the image's own HEALTHCHECK, if it has one (the API is the team's)
    healthcheck: str | None = None


# docker's health states: checked every 10 s, unhealthy after 3 failures in a row
HEALTH = {"interval": "10s", "timeout": "5s", "retries": 3, "start_period": "30s"}


def _http_check(port: int, path: str) -> str:
    """busybox wget, in the alpine and busybox based images pinned here."""
    return f"wget -q -O /dev/null http://127.0.0.1:{port}{path}"


def check(stack: Stack) -> None:
    """A kubernetes-target stack rendered with --format compose meets the docker target's rule
    (a docker-target stack already met it when it validated)."""
    if stack.beyond_one_host:
        raise ShapeError(f"the docker target renders the MVP shape; this stack also has: "
                         f"{', '.join(stack.beyond_one_host)} (use the kubernetes target)")


def parts(value: Value) -> list[str | Ref]:
    return list(value) if isinstance(value, tuple) else [value]


def _database_url(stack: Stack) -> tuple:
    pg = stack.postgres
    return (f"postgresql://{pg.app_user}:", Ref("appPassword"),
            f"@{POSTGRES}:{PORTS.postgres}/{pg.database}")


def _as(uid: int) -> str:
    return f"{uid}:{uid}"


def services(stack: Stack) -> list[Service]:
    """Every container runs as its Kubernetes pod's user (sidecars as their pod's), except
    postgres: its image's entrypoint starts as root to own PGDATA on the volume and initdb,
    then drops to the postgres user itself (the command starts with `postgres`)."""
    check(stack)
    a, pg = stack.api, stack.postgres
    # api.command is refused on this target (Stack.beyond_one_host): compose's `command` is
    # the image's CMD, which is what api.args replaces
    api_cmd = list(a.args) or api.api_command(stack).get("command")
    names = a.env_names
    out = [
        Service(API, a.image, command=api_cmd, replicas=a.replicas, tmpfs=[api.TMP],
                user=_as(api.UID), resources=a.resources,
                environment={
                    "PORT": str(a.port), names.database_url: _database_url(stack),
                    names.database_read_url: _database_url(stack),
                    # review 002 (002_f99052a1f9a0162e.txt), Recommendation 3: DB_POOL_SIZE
                    "DB_POOL_SIZE": str(stack.app.app_pool_per_pod),
                    "REDIS_CLUSTER_ENABLED": "false",
                    "REDIS_USERNAME": redis.APP_USER,
                    names.redis_url: (f"redis://{redis.APP_USER}:", Ref("redisPassword"),
                                      f"@{REDIS}:{PORTS.redis}/0"),
                    **a.env},
                depends_on=[POSTGRES, REDIS]),
        Service(NGINX, stack.nginx.image,
                command=["nginx", "-e", "stderr", "-c", f"{nginx.CONF_DIR}/nginx.conf"],
                ports=[f"{HTTP_HOST_PORT}:{PORTS.nginx_http}"],
                # the pod's user: nginx.conf keeps pid and temp paths under the tmpfs
                files={f"{nginx.CONF_DIR}/nginx.conf": "nginx.conf"}, tmpfs=[nginx.TMP],
                depends_on=[API], user=_as(nginx.UID), resources=stack.nginx.resources,
                healthcheck=_http_check(PORTS.nginx_status, "/stub_status")),
        Service("nginx-exporter", stack.nginx.exporter_image, sidecar_of=NGINX, user=_as(nginx.UID),
                command=[
            f"--nginx.scrape-uri=http://127.0.0.1:{PORTS.nginx_status}/stub_status",
            f"--web.listen-address=:{PORTS.nginx_exporter}"]),
        # The image's entrypoint drops to the redis user only when it runs redis-server itself.
        # Here a shell expands the password from the environment (so neither the compose file
        # nor the container's command holds it), so the container starts as the pod's redis
        # user. A redis_data volume an earlier root-run server wrote needs `chown -R 999` once.
        Service(REDIS, stack.redis.image, command=[
            "sh", "-c", f'exec redis-server {redis.CONF_DIR}/redis.conf '
            '--requirepass "$REDIS_ADMIN_PASSWORD" --masterauth "$REDIS_ADMIN_PASSWORD" '
            f'--user {redis.APP_USER} on ">$REDIS_PASSWORD" '
            + " ".join(f'"{rule}"' for rule in redis.APP_RULES)],
            environment={"REDIS_PASSWORD": Ref("redisPassword"),
                         "REDIS_ADMIN_PASSWORD": Ref("redisAdminPassword")},
            files={f"{redis.CONF_DIR}/redis.conf": "redis.conf"},
            volumes={"redis_data": redis.DATA_DIR}, user=_as(redis.UID),
            resources=stack.redis.resources,
            # REDISCLI_AUTH: the password stays out of the check's arguments
            healthcheck='REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD" redis-cli ping | grep -q PONG'),
        Service("redis-exporter", stack.redis.exporter_image, sidecar_of=REDIS, user=_as(redis.UID),
                environment={
            "REDIS_ADDR": f"redis://localhost:{PORTS.redis}",
            "REDIS_PASSWORD": Ref("redisAdminPassword")}),
        Service(POSTGRES, pg.image,
                command=["postgres", "-c",
                         f"config_file={postgres_config.CONFIG_DIR}/postgresql.conf"],
                environment={"PGDATA": postgres.PGDATA,
                             "POSTGRES_PASSWORD": Ref("postgresPassword"),
                             "APP_PASSWORD": Ref("appPassword"),
                             "REPLICATION_PASSWORD": Ref("replicationPassword"),
                             "MONITOR_PASSWORD": Ref("monitorPassword")},
                files={**{f"{postgres_config.CONFIG_DIR}/{n}": n
                          for n in ("postgresql.conf", "pg_hba.conf", "init-roles.sql")},
                       f"{postgres.INITDB_DIR}/10-init-roles.sh": "init-roles.sh"},
                volumes={"postgres_data": postgres.DATA_MOUNT},
                tmpfs=["/tmp", postgres_config.SOCKET_DIR], read_only=False,
                resources=pg.resources,
                healthcheck=f"pg_isready -q -h 127.0.0.1 -p {PORTS.postgres} -U postgres"),
        Service("postgres-exporter", pg.exporter_image, sidecar_of=POSTGRES,
                user=_as(postgres.UID), command=list(postgres.EXPORTER_ARGS), environment={
            "DATA_SOURCE_URI": f"127.0.0.1:{PORTS.postgres}/postgres?sslmode=disable",
            "DATA_SOURCE_USER": MONITOR_USER, "DATA_SOURCE_PASS": Ref("monitorPassword")}),
    ]
    if stack.monitoring.prometheus:
        conf = prometheus.CONFIG_DIR
        rules = {f"{conf}/{prometheus.RULES_FILE}": prometheus.RULES_FILE} \
            if stack.monitoring.alerts else {}
        out.append(Service(
            PROMETHEUS, stack.monitoring.prometheus_image,
            command=[f"--config.file={conf}/prometheus.yml",
                     f"--storage.tsdb.path={prometheus.DATA_DIR}",
                     f"--storage.tsdb.retention.time={stack.monitoring.retention}"],
            ports=[f"127.0.0.1:{PORTS.prometheus}:{PORTS.prometheus}"],
            files={f"{conf}/prometheus.yml": "prometheus.yml", **rules},
            volumes={"prometheus_data": prometheus.DATA_DIR}, user=_as(prometheus.UID),
            depends_on=[API, NGINX, REDIS, POSTGRES], resources=prometheus.SIZE,
            healthcheck=_http_check(PORTS.prometheus, "/-/ready")))
    return out

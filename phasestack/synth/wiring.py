"""The wiring every synthesizer shares: Service and Secret names, ports, images, flows.

Service names are part of the wiring (DNS), so they are fixed here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Stack, Worker

API, API_HEADLESS, NGINX = "api", "api-headless", "nginx"
REDIS, REDIS_HEADLESS, REDIS_BOOTSTRAP = "redis", "redis-headless", "redis-cluster-bootstrap"
REDIS_SNAPSHOT = "redis-snapshot"  # the CronJob copying RDB snapshots to object storage
POSTGRES, POSTGRES_RO, POSTGRES_HEADLESS = "postgres", "postgres-ro", "postgres-headless"
POSTGRES_REPLICA = "postgres-replica"
# engine cloudnativepg: the Cluster is named POSTGRES; the operator makes <cluster>-rw (the
# primary, moved on failover) and <cluster>-ro (the replicas: POSTGRES_RO)
POSTGRES_RW = "postgres-rw"
CNPG_APP_SECRET = "postgres-app"  # the app role for the Cluster's initdb (kubernetes.io/basic-auth)
PGBOUNCER, PROMETHEUS, GRAFANA = "pgbouncer", "prometheus", "grafana"
ALERTMANAGER = "alertmanager"
MIGRATE = "api-migrate"  # the schema migration Job's pods (and ServiceAccount)
NGINX_TLS = "nginx-tls"  # the Secret cert-manager writes the Ingress certificate into

# Secret names and keys (phasestack.synth.secrets builds them).
PG_SECRET, REDIS_SECRET, GRAFANA_SECRET, PGB_SECRET = (
    "postgres-credentials", "redis-credentials", "grafana-credentials", "pgbouncer-userlist")
# credential name -> (Secret, key); the names are also the Pulumi config keys that override
# them. Every synthesizer names a credential by these (secret_key()), never by a literal key.
CREDENTIALS: dict[str, tuple[str, str]] = {
    "postgresPassword": (PG_SECRET, "postgres-password"),
    "appPassword": (PG_SECRET, "app-password"),
    "replicationPassword": (PG_SECRET, "replication-password"),
    "monitorPassword": (PG_SECRET, "monitor-password"),
    "redisPassword": (REDIS_SECRET, "redis-password"),
    "redisAdminPassword": (REDIS_SECRET, "admin-password"),
    "grafanaPassword": (GRAFANA_SECRET, "admin-password"),
}
# in-cluster DNS: <service>.<namespace>.svc.cluster.local
CLUSTER_DOMAIN = "svc.cluster.local"


def postgres_primary(stack: Stack) -> str:
    """Base name of the Service that reaches the PostgreSQL primary (writes)."""
    return POSTGRES_RW if stack.postgres.engine == "cloudnativepg" else POSTGRES


def secret_key(credential: str) -> str:
    """The key of `credential` in its Secret."""
    return CREDENTIALS[credential][1]


def secret_ref(stack: Stack, credential: str) -> tuple[str, str]:
    """(Secret name, key) of `credential` in this instance."""
    secret, key = CREDENTIALS[credential]
    return named(stack, secret), key


def app_password(stack: Stack) -> tuple[str, str]:
    """(Secret, key) of the app role's password: the team's Secret for a managed PostgreSQL
    (postgres.external), else the stack's."""
    ext = stack.postgres.external
    return (ext.password_secret, ext.password_key) if ext else secret_ref(stack, "appPassword")


def redis_password(stack: Stack) -> tuple[str, str]:
    """(Secret, key) of the app's Redis password: the team's for a managed Redis."""
    ext = stack.redis.external
    return (ext.password_secret, ext.password_key) if ext else secret_ref(stack,
                                                                          "redisPassword")


@dataclass(frozen=True)
class Ports:
    nginx_http: int = 8080
    nginx_status: int = 8081
    nginx_exporter: int = 9113
    redis: int = 6379
    redis_bus: int = 16379
    redis_exporter: int = 9121
    postgres: int = 5432
    postgres_exporter: int = 9187
    pgbouncer: int = 6432
    pgbouncer_exporter: int = 9127
    prometheus: int = 9090
    grafana: int = 3000
    alertmanager: int = 9093


PORTS = Ports()


# Flow peer meaning any client (as src) or any address, e.g. the kube-apiserver (as dst).
ANY = "*"
# Flow peer prefix: every pod of another namespace (an ingress controller's), as src
NAMESPACE_PEER = "namespace:"


@dataclass(frozen=True)
class Flow:
    """A connection the topology needs: pods named `src` open TCP to pods named `dst` on `port`.

    Names are app.kubernetes.io/name values; src "*" means any client (ingress from outside).
    """

    src: str
    dst: str
    port: int


def worker_name(worker: Worker) -> str:
    """Base name of a queue worker's Deployment (and its HPA and PDB)."""
    return f"worker-{worker.name}"


def named(stack: Stack, base: str) -> str:
    """An object's name: the instance's prefix (Stack.prefix; empty for a stack) + its base
    name. Base names (the constants above) become Kubernetes names only through here, so two
    instances of a component share a namespace."""
    return f"{stack.prefix}{base}"


def dns(stack: Stack, service: str) -> str:
    """The in-cluster DNS name of the Service with base name `service`."""
    return f"{named(stack, service)}.{stack.namespace}.{CLUSTER_DOMAIN}"


def pod_dns(stack: Stack, pod: str, headless: str) -> str:
    """Stable DNS name of one StatefulSet pod (base name, e.g. redis-0) through its headless
    Service."""
    return f"{named(stack, pod)}.{dns(stack, headless)}"

"""The wiring every synthesizer shares: Service and Secret names, ports, images, flows.

Service names are part of the wiring (DNS), so they are fixed here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Stack

API, API_HEADLESS, NGINX = "api", "api-headless", "nginx"
REDIS, REDIS_HEADLESS, REDIS_BOOTSTRAP = "redis", "redis-headless", "redis-cluster-bootstrap"
POSTGRES, POSTGRES_RO, POSTGRES_HEADLESS = "postgres", "postgres-ro", "postgres-headless"
POSTGRES_REPLICA = "postgres-replica"
PGBOUNCER, PROMETHEUS, GRAFANA = "pgbouncer", "prometheus", "grafana"

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


def secret_key(credential: str) -> str:
    """The key of `credential` in its Secret."""
    return CREDENTIALS[credential][1]


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


PORTS = Ports()


# Flow peer meaning any client (as src) or any address, e.g. the kube-apiserver (as dst).
ANY = "*"


@dataclass(frozen=True)
class Flow:
    """A connection the topology needs: pods named `src` open TCP to pods named `dst` on `port`.

    Names are app.kubernetes.io/name values; src "*" means any client (ingress from outside).
    """

    src: str
    dst: str
    port: int


def dns(stack: Stack, service: str) -> str:
    return f"{service}.{stack.namespace}.{CLUSTER_DOMAIN}"


def pod_dns(stack: Stack, pod: str, headless: str) -> str:
    """Stable DNS name of one StatefulSet pod through its headless Service."""
    return f"{pod}.{dns(stack, headless)}"

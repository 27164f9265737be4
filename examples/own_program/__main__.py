"""Your own Pulumi program with phasestack's components: a Redis Cluster for sessions, a
PgBouncer in front of a PostgreSQL you already run (a managed one, say), and the app (podinfo
here) against both with nginx in front, and Prometheus and Grafana watching all of them.

Before `pulumi up`: the namespace exists, and so does a Secret in it with the database role's
password (kubectl -n shop create secret generic orders-db --from-literal=password=...; not
`kubectl apply` of a manifest, which keeps the value in plain text in an annotation that the
program's read of the Secret would then copy into the Pulumi state).
Config (all optional but postgresHost):
  namespace (shop), postgresHost, postgresDatabase (orders), postgresUser (orders),
  postgresPasswordSecret (orders-db), postgresMaxConnections (200), kubeContext.
"""

import pulumi
import pulumi_kubernetes as k8s

from phasestack.components.api_service import ApiService
from phasestack.components.load_balancer import LoadBalancer
from phasestack.components.monitoring import Monitoring
from phasestack.components.pgbouncer import PgBouncer
from phasestack.components.redis import Redis
from phasestack.model import (
    ApiArgs,
    MonitoringArgs,
    NginxArgs,
    PgBouncerArgs,
    RedisArgs,
    RedisServer,
    Server,
)

config = pulumi.Config()
namespace = config.get("namespace") or "shop"

# your provider (an EKS or GKE cluster made in this program works the same): the components
# and everything in them use it
cluster = k8s.Provider("cluster", context=config.get("kubeContext"), namespace=namespace)
opts = pulumi.ResourceOptions(provider=cluster)

# sessions-redis: 3 masters x 1 replica, the stack file's `redis` fields and defaults
cache = RedisArgs(namespace=namespace, mode="cluster", masters=3, replicas_per_master=1,
                  maxmemory_mb=1024)
sessions = Redis("sessions", cache, opts)

# orders-pool-pgbouncer in front of the existing server; its pools must fit the server's
# max_connections (2 pods x (25 + 5) x 2 pools = 120 of 200 here)
pooler = PgBouncerArgs(
    namespace=namespace, replicas=2,
    server=Server(host=config.require("postgresHost"),
                  database=config.get("postgresDatabase") or "orders",
                  user=config.get("postgresUser") or "orders",
                  password_secret=config.get("postgresPasswordSecret") or "orders-db",
                  password_key="password",
                  max_connections=config.get_int("postgresMaxConnections") or 200))
pool = PgBouncer("orders-pool", pooler, opts)

# shop-api against the pool and the sessions Cluster (their Services' names are the instances':
# orders-pool-pgbouncer, sessions-redis), and shop-nginx in front of it (the same name)
service = ApiArgs(
    namespace=namespace, replicas=2,
    database=Server(host=f"orders-pool-pgbouncer.{namespace}.svc.cluster.local", port=6432,
                    database="orders", user="orders", password_secret="orders-db",
                    password_key="password", sslmode="disable"),
    redis=RedisServer(mode="cluster", host=f"sessions-redis.{namespace}.svc.cluster.local",
                      password_secret="sessions-redis-credentials"))
app = ApiService("shop", service, opts)
front = NginxArgs(namespace=namespace, service_type="ClusterIP")
entry = LoadBalancer("shop", front, pulumi.ResourceOptions.merge(
    opts, pulumi.ResourceOptions(depends_on=[app])))

# obs-prometheus (alert rules with thresholds from these args: Redis memory against its 1024 MB,
# ...) and obs-grafana, scraping each instance by its name; one of each component per Monitoring
# rps_critical: the rate the app cannot take (a stack derives it from its app profile)
obs = Monitoring("obs", MonitoringArgs(
    namespace=namespace, alerts=True, grafana=True, rps_critical=400,
    watch=[("sessions", cache), ("orders-pool", pooler), ("shop", service), ("shop", front)]),
    opts)

pulumi.export("endpoint", entry.endpoint)
pulumi.export("api_host", app.host)
pulumi.export("redis_nodes", sessions.nodes)
pulumi.export("redis_secret", sessions.secret_name)
pulumi.export("redis_url", sessions.url)          # secret
pulumi.export("database_host", pool.host)
pulumi.export("database_url", pool.url)           # secret
pulumi.export("database_read_url", pool.read_url)  # secret
pulumi.export("prometheus_url", obs.prometheus_url)
pulumi.export("grafana_url", obs.grafana_url)
pulumi.export("grafana_secret", obs.grafana_secret_name)

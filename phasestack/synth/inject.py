"""What phasestack injects into the app's containers (the API, its workers, the migration
Job): the database and Redis URLs, with passwords only from Secrets. Pure."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import common as c
from phasestack.synth import redis


def _url(stack: Stack, host: str, port: int, db: str, sslmode: str | None = None) -> str:
    """postgresql://<app_user>:$(DB_PASSWORD)@host:port/db: the password comes from
    $(DB_PASSWORD) at runtime."""
    query = f"?sslmode={sslmode}" if sslmode else ""
    return f"postgresql://{stack.postgres.app_user}:$(DB_PASSWORD)@{host}:{port}/{db}{query}"


def direct_url(stack: Stack, read: bool = False) -> str:
    """The primary's own URL (`read`: the replicas'), past PgBouncer: a migration takes session
    locks (Prisma's advisory lock, Django's transactions) that transaction pooling would not
    keep. A managed PostgreSQL's endpoints with its sslmode."""
    pg, ext = stack.postgres, stack.postgres.external
    if ext:
        host = (ext.read_host or ext.host) if read else ext.host
        return _url(stack, host, ext.port, pg.database, ext.sslmode)
    service = c.POSTGRES_RO if read and pg.read_replicas else c.postgres_primary(stack)
    return _url(stack, c.dns(stack, service), c.PORTS.postgres, pg.database)


def database_urls(stack: Stack) -> tuple[str, str]:
    """(read-write URL, read-only URL) the API and workers get."""
    db = stack.postgres.database
    if stack.pgbouncer.enabled:
        # PgBouncer serves <db> (primary) and <db>_ro (read replicas, or the primary without any)
        host = c.dns(stack, c.PGBOUNCER)
        return (_url(stack, host, c.PORTS.pgbouncer, db),
                _url(stack, host, c.PORTS.pgbouncer, f"{db}_ro"))
    return direct_url(stack), direct_url(stack, read=True)


# review 002 (002_f99052a1f9a0162e.txt), Appendix Phase 2: REDIS_CLUSTER_NODES names three nodes
CLUSTER_SEEDS = 3


def redis_cluster_nodes(stack: Stack) -> list[str]:
    """The seeds a cluster client starts from: the stable DNS names of the first three pods
    (masters or replicas: any node answers CLUSTER SLOTS, from which the client learns every
    other). A fixed few, so the list neither grows with the cluster nor changes (no API roll)
    when it grows (issue 17: 50 workloads each repeating 192 addresses)."""
    return [f"{c.pod_dns(stack, f'{c.REDIS}-{i}', c.REDIS_HEADLESS)}:{c.PORTS.redis}"
            for i in range(min(CLUSTER_SEEDS, stack.redis.pods))]


def env(stack: Stack, direct: bool = False) -> list[dict]:
    """What phasestack injects into the API, worker and migration containers (`direct`: the
    database URLs go to the primary, past PgBouncer). Order matters: $(VAR) refers back."""
    rw, ro = (direct_url(stack),) * 2 if direct else database_urls(stack)
    names = stack.api.env_names
    out = [
        c.secret_env("DB_PASSWORD", *c.app_password(stack)),
        {"name": names.database_url, "value": rw},
        {"name": names.database_read_url, "value": ro},
        # review 002 (002_f99052a1f9a0162e.txt), Recommendation 3: DB_POOL_SIZE per process
        {"name": "DB_POOL_SIZE", "value": str(stack.app.app_pool_per_pod)},
    ]
    return out + redis_env(stack)


def redis_flows(stack: Stack, src: str) -> list[c.Flow]:
    """The connection to the stack's Redis of a pod given REDIS_* (none without Redis; a
    managed one is an egress rule, synth.network.external)."""
    return [c.Flow(src, c.REDIS, c.PORTS.redis)] if stack.runs("redis") else []


def _redis_endpoint(stack: Stack) -> tuple[str, str, str, int]:
    """(scheme, user, host, port of the seed or server) of the Redis the app uses."""
    ext = stack.redis.external
    if ext:
        return "rediss" if ext.tls else "redis", ext.username or "", ext.host, ext.port
    return "redis", redis.APP_USER, c.dns(stack, c.REDIS), c.PORTS.redis


def redis_env(stack: Stack) -> list[dict]:
    """REDIS_*: none without Redis (redis.enabled false)."""
    if not stack.has("redis"):
        return []
    names = stack.api.env_names
    scheme, user, host, port = _redis_endpoint(stack)
    ext = stack.redis.external
    out = [
        # the ACL user that cannot run @dangerous commands (FLUSHALL, CONFIG, KEYS, ...), or a
        # managed Redis's (none: its default user and AUTH token)
        *([{"name": "REDIS_USERNAME", "value": user}] if user else []),
        c.secret_env("REDIS_PASSWORD", *c.redis_password(stack)),
        # a managed one's TLS (a Cluster client has no URL to say rediss://)
        *([{"name": "REDIS_TLS", "value": str(ext.tls).lower()}] if ext else []),
    ]
    if stack.redis.mode == "cluster":
        # review 002 (002_f99052a1f9a0162e.txt), Appendix Phase 2: Redis Cluster env variables;
        # a managed Cluster's seed is its configuration endpoint
        seeds = [f"{host}:{port}"] if stack.redis.external else redis_cluster_nodes(stack)
        out += [{"name": "REDIS_CLUSTER_ENABLED", "value": "true"},
                {"name": names.redis_cluster_nodes, "value": ",".join(seeds)}]
    else:
        out += [{"name": "REDIS_CLUSTER_ENABLED", "value": "false"},
                {"name": names.redis_url,
                 "value": f"{scheme}://{user}:$(REDIS_PASSWORD)@{host}:{port}/0"}]
    return out

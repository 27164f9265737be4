"""What phasestack injects into the app's containers (the API, its workers, the migration
Job): the database and Redis URLs, with passwords only from Secrets. Pure."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import common as c
from phasestack.synth import redis


def _pg_host(stack: Stack, service: str) -> str:
    return c.dns(stack, service)


def direct_url(stack: Stack) -> str:
    """The primary's own URL, past PgBouncer: a migration takes session locks (Prisma's
    advisory lock, Django's transactions) that transaction pooling would not keep."""
    pg = stack.postgres
    return (f"postgresql://{pg.app_user}:$(DB_PASSWORD)@{_pg_host(stack, c.POSTGRES)}:"
            f"{c.PORTS.postgres}/{pg.database}")


def database_urls(stack: Stack) -> tuple[str, str]:
    """(read-write URL, read-only URL); the password comes from $(DB_PASSWORD) at runtime."""
    pg = stack.postgres
    user, db = pg.app_user, pg.database
    if stack.pgbouncer.enabled:
        # PgBouncer serves <db> (primary) and <db>_ro (read replicas, or the primary without any)
        base = f"postgresql://{user}:$(DB_PASSWORD)@{_pg_host(stack, c.PGBOUNCER)}:" \
               f"{c.PORTS.pgbouncer}"
        return f"{base}/{db}", f"{base}/{db}_ro"
    rw = direct_url(stack)
    if pg.read_replicas > 0:
        ro = (f"postgresql://{user}:$(DB_PASSWORD)@{_pg_host(stack, c.POSTGRES_RO)}:"
              f"{c.PORTS.postgres}/{db}")
        return rw, ro
    return rw, rw


def redis_cluster_nodes(stack: Stack) -> list[str]:
    """Every Redis pod's stable DNS name (masters and replicas: the client discovers roles)."""
    return [f"{c.pod_dns(stack, f'{c.REDIS}-{i}', c.REDIS_HEADLESS)}:{c.PORTS.redis}"
            for i in range(stack.redis.pods)]


def env(stack: Stack, direct: bool = False) -> list[dict]:
    """What phasestack injects into the API, worker and migration containers (`direct`: the
    database URLs go to the primary, past PgBouncer). Order matters: $(VAR) refers back."""
    rw, ro = (direct_url(stack),) * 2 if direct else database_urls(stack)
    names = stack.api.env_names
    out = [
        c.secret_env("DB_PASSWORD", *c.secret_ref(stack, "appPassword")),
        {"name": names.database_url, "value": rw},
        {"name": names.database_read_url, "value": ro},
        # review 002 (002_f99052a1f9a0162e.txt), Recommendation 3: DB_POOL_SIZE per process
        {"name": "DB_POOL_SIZE", "value": str(stack.app.app_pool_per_pod)},
        # the ACL user that cannot run @dangerous commands (FLUSHALL, CONFIG, KEYS, ...)
        {"name": "REDIS_USERNAME", "value": redis.APP_USER},
        c.secret_env("REDIS_PASSWORD", *c.secret_ref(stack, "redisPassword")),
    ]
    if stack.redis.mode == "cluster":
        # review 002 (002_f99052a1f9a0162e.txt), Appendix Phase 2: Redis Cluster env variables
        out += [{"name": "REDIS_CLUSTER_ENABLED", "value": "true"},
                {"name": names.redis_cluster_nodes,
                 "value": ",".join(redis_cluster_nodes(stack))}]
    else:
        out += [{"name": "REDIS_CLUSTER_ENABLED", "value": "false"},
                {"name": names.redis_url, "value": f"redis://{redis.APP_USER}:$(REDIS_PASSWORD)@"
                 f"{c.dns(stack, c.REDIS)}:{c.PORTS.redis}/0"}]
    return out

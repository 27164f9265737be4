"""PgBouncer: a Deployment of poolers in front of PostgreSQL, with the pgbouncer-exporter sidecar.

Clients connect to `pgbouncer:6432`, database `<db>` (read-write, the primary) or `<db>_ro`
(the read-only Service `postgres-ro`, or the primary when the stack has no replicas).
"""

from __future__ import annotations

from phasestack.model import Server, Stack
from phasestack.synth.common import (
    PGB_SECRET,
    PGBOUNCER,
    PORTS,
    POSTGRES,
    POSTGRES_REPLICA,
    POSTGRES_RO,
    Flow,
    config_hash,
    config_map,
    container,
    deployment,
    dns,
    empty_dir,
    named,
    pdb,
    pod_spec,
    render_template,
    resources,
    secret_env,
    secret_ref,
    service,
    small_resources,
    tcp_probe,
)

COMPONENT = "pgbouncer"
UID = 1001                                # bitnami/pgbouncer runs as 1001
CONFIG_DIR = "/etc/pgbouncer"             # ConfigMap pgbouncer.ini + Secret userlist.txt
BINARY = "/opt/bitnami/pgbouncer/bin/pgbouncer"
RESERVE_POOL_TIMEOUT_S = 3                # wait this long before dipping into the reserve pool
SERVER_RESET_QUERY = "DISCARD ALL"


def ro_database(stack: Stack) -> str:
    return f"{stack.postgres.database}_ro"


def pgbouncer_ini(stack: Stack, *, rw_host: str | None = None, rw_port: int = PORTS.postgres,
                  ro_host: str | None = None, ro_port: int = PORTS.postgres,
                  listen_addr: str = "0.0.0.0", listen_port: int = PORTS.pgbouncer,
                  auth_file: str = f"{CONFIG_DIR}/userlist.txt", logfile: str = "",
                  pidfile: str = "", unix_socket_dir: str = "") -> str:
    """pgbouncer.ini; hosts default to the Services' cluster DNS names."""
    pg, pgb = stack.postgres, stack.pgbouncer
    replicas = pg.read_replicas > 0
    ro_service = POSTGRES_RO if replicas else POSTGRES
    databases = [
        {"name": pg.database, "host": rw_host or dns(stack, POSTGRES), "port": rw_port,
         "dbname": pg.database, "comment": "read-write: the primary"},
        {"name": ro_database(stack), "host": ro_host or dns(stack, ro_service), "port": ro_port,
         "dbname": pg.database,
         "comment": "read-only: the streaming replicas" if replicas
         else "read-only name, served by the primary until the stack has read replicas"},
    ]
    return render_template(
        "pgbouncer/pgbouncer.ini.j2", databases=databases, listen_addr=listen_addr,
        listen_port=listen_port, unix_socket_dir=unix_socket_dir, auth_file=auth_file,
        stats_user=pg.app_user, pool_mode=pgb.pool_mode, max_client_conn=pgb.max_client_conn,
        default_pool_size=pgb.default_pool_size, min_pool_size=pgb.min_pool_size,
        reserve_pool_size=pgb.reserve_pool_size, reserve_pool_timeout=RESERVE_POOL_TIMEOUT_S,
        server_reset_query=SERVER_RESET_QUERY, logfile=logfile, pidfile=pidfile,
        query_wait_timeout=pgb.query_wait_timeout_s,
        server_connect_timeout=pgb.server_connect_timeout_s,
        server_login_retry=pgb.server_login_retry_s)


def _pgbouncer(stack: Stack) -> dict:
    return container(
        "pgbouncer", stack.pgbouncer.image, resources(stack.pgbouncer.resources),
        {"pgbouncer": PORTS.pgbouncer}, liveness=tcp_probe("pgbouncer"),
        readiness=tcp_probe("pgbouncer", period=5, delay=2),
        command=[BINARY, f"{CONFIG_DIR}/pgbouncer.ini"],
        volumeMounts=[{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                      {"name": "tmp", "mountPath": "/tmp"}])


def _exporter(stack: Stack, password: tuple[str, str]) -> dict:
    # lib/pq reads PGPASSWORD, so the password never appears in the arguments
    dsn = (f"postgres://{stack.postgres.app_user}@127.0.0.1:{PORTS.pgbouncer}/pgbouncer"
           "?sslmode=disable")
    return container(
        "pgbouncer-exporter", stack.pgbouncer.exporter_image, small_resources(),
        {"metrics": PORTS.pgbouncer_exporter}, liveness=tcp_probe("metrics"),
        readiness=tcp_probe("metrics", period=5, delay=2),
        args=[f"--pgBouncer.connectionString={dsn}",
              f"--web.listen-address=:{PORTS.pgbouncer_exporter}"],
        env=[secret_env("PGPASSWORD", *password)])


def manifests(stack: Stack, server: Server | None = None) -> list[dict]:
    """The stack's PgBouncer, or (`server`) one in front of an existing PostgreSQL, whose
    password Secret the exporter reads."""
    pgb = stack.pgbouncer
    if not pgb.enabled:
        return []
    if server is None:
        ini, password = pgbouncer_ini(stack), secret_ref(stack, "appPassword")
    else:
        ini = pgbouncer_ini(stack, rw_host=server.host, rw_port=server.port,
                            ro_host=server.read_host or server.host, ro_port=server.port)
        password = (server.password_secret, server.password_key)
    config = {"name": "config", "projected": {"defaultMode": 0o440, "sources": [
        {"configMap": {"name": named(stack, PGBOUNCER), "items": [{"key": "pgbouncer.ini",
                                                      "path": "pgbouncer.ini"}]}},
        {"secret": {"name": named(stack, PGB_SECRET), "items": [{"key": "userlist.txt",
                                                    "path": "userlist.txt"}]}}]}}
    spec = pod_spec(stack, PGBOUNCER, UID, [_pgbouncer(stack), _exporter(stack, password)],
                    volumes=[config, empty_dir("tmp")], terminationGracePeriodSeconds=30)
    # pgbouncer.ini only: the userlist is a Secret, and no hash of a password goes in a manifest
    annotations = {**config_hash(ini),
                   "prometheus.io/scrape": "true",
                   "prometheus.io/port": str(PORTS.pgbouncer_exporter)}
    return [
        config_map(stack, PGBOUNCER, COMPONENT, {"pgbouncer.ini": ini}),
        service(stack, PGBOUNCER, COMPONENT,
                {"pgbouncer": PORTS.pgbouncer, "metrics": PORTS.pgbouncer_exporter}),
        deployment(stack, PGBOUNCER, COMPONENT, pgb.replicas, spec, annotations),
        *pdb(stack, PGBOUNCER, COMPONENT, pgb.replicas),
    ]


def flows(stack: Stack) -> list[Flow]:
    """PgBouncer opens server connections to the primary and, with replicas, to them."""
    if not stack.pgbouncer.enabled:
        return []
    out = [Flow(PGBOUNCER, POSTGRES, PORTS.postgres)]
    if stack.postgres.read_replicas:
        out.append(Flow(PGBOUNCER, POSTGRES_REPLICA, PORTS.postgres))
    return out

"""PgBouncer: a Deployment of poolers in front of PostgreSQL, with the pgbouncer-exporter sidecar.

Clients connect to `pgbouncer:6432`, database `<db>` (read-write, the primary) or `<db>_ro`
(the read-only Service `postgres-ro`, or the primary when the stack has no replicas).
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth.common import (
    PGB_SECRET,
    PGBOUNCER,
    PORTS,
    POSTGRES,
    POSTGRES_REPLICA,
    POSTGRES_RO,
    Flow,
    app_password,
    config_hash,
    config_map,
    container,
    deployment,
    dns,
    empty_dir,
    job_container,
    named,
    pdb,
    pod_spec,
    postgres_primary,
    render_template,
    resources,
    secret_env,
    service,
    small_resources,
    tcp_probe,
)

COMPONENT = "pgbouncer"
CONFIG_DIR = "/etc/pgbouncer"             # ConfigMap pgbouncer.ini + Secret userlist.txt
AUTH_DIR = "/run/pgbouncer"               # in front of a managed PostgreSQL: the written userlist
RESERVE_POOL_TIMEOUT_S = 3                # wait this long before dipping into the reserve pool
SERVER_RESET_QUERY = "DISCARD ALL"


def ro_database(stack: Stack) -> str:
    return f"{stack.postgres.database}_ro"


def writes_userlist(stack: Stack) -> bool:
    """Whether the pods write their userlist from the app password's Secret (the team's: a
    managed PostgreSQL, or credentials: existing) instead of mounting the stack's
    pgbouncer-userlist Secret."""
    return stack.postgres.external is not None or stack.credentials == "existing"


def userlist_path(stack: Stack) -> str:
    """The userlist: the stack's Secret, or the file the `userlist` init container writes."""
    return f"{AUTH_DIR}/userlist.txt" if writes_userlist(stack) else \
        f"{CONFIG_DIR}/userlist.txt"


def pgbouncer_ini(stack: Stack, *, rw_host: str | None = None, rw_port: int | None = None,
                  ro_host: str | None = None, ro_port: int | None = None,
                  listen_addr: str = "0.0.0.0", listen_port: int = PORTS.pgbouncer,
                  auth_file: str | None = None, logfile: str = "",
                  pidfile: str = "", unix_socket_dir: str = "") -> str:
    """pgbouncer.ini; hosts default to the Services' cluster DNS names, or a managed
    PostgreSQL's endpoints."""
    pg, pgb, ext = stack.postgres, stack.pgbouncer, stack.postgres.external
    if ext:
        rw, ro, port = ext.host, ext.read_host or ext.host, ext.port
        ro_comment = ("read-only: the managed reader endpoint" if ext.read_host
                      else "read-only name, served by the managed primary")
    else:
        replicas = pg.read_replicas > 0
        primary = postgres_primary(stack)
        rw, ro, port = dns(stack, primary), dns(stack, POSTGRES_RO if replicas else primary), \
            PORTS.postgres
        ro_comment = ("read-only: the streaming replicas" if replicas
                      else "read-only name, served by the primary until the stack has read "
                           "replicas")
    databases = [
        {"name": pg.database, "host": rw_host or rw, "port": rw_port or port,
         "dbname": pg.database, "comment": "read-write: the primary"},
        {"name": ro_database(stack), "host": ro_host or ro, "port": ro_port or port,
         "dbname": pg.database, "comment": ro_comment},
    ]
    return render_template(
        "pgbouncer/pgbouncer.ini.j2", databases=databases, listen_addr=listen_addr,
        listen_port=listen_port, unix_socket_dir=unix_socket_dir,
        auth_file=auth_file or userlist_path(stack),
        server_tls_sslmode=ext.sslmode if ext else "disable",
        stats_user=pg.app_user, pool_mode=pgb.pool_mode, max_client_conn=pgb.max_client_conn,
        default_pool_size=pgb.default_pool_size, min_pool_size=pgb.min_pool_size,
        reserve_pool_size=pgb.reserve_pool_size, reserve_pool_timeout=RESERVE_POOL_TIMEOUT_S,
        server_reset_query=SERVER_RESET_QUERY, logfile=logfile, pidfile=pidfile,
        query_wait_timeout=pgb.query_wait_timeout_s,
        server_connect_timeout=pgb.server_connect_timeout_s,
        server_login_retry=pgb.server_login_retry_s,
        max_prepared_statements=pgb.max_prepared_statements)


def _pgbouncer(stack: Stack) -> dict:
    return container(
        "pgbouncer", stack.pgbouncer.image, resources(stack.pgbouncer.resources),
        {"pgbouncer": PORTS.pgbouncer}, liveness=tcp_probe("pgbouncer"),
        readiness=tcp_probe("pgbouncer", period=5, delay=2),
        command=[stack.pgbouncer.binary, f"{CONFIG_DIR}/pgbouncer.ini"],
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


# the userlist line for the team's password: PgBouncer doubles a '"' inside a quoted field
SERVER_PASSWORD_DIR = "/run/server"      # the team's Secret, as a file
USERLIST_SCRIPT = ("umask 077 && printf '\"%s\" \"%s\"\\n' \"$PGB_USER\" "
                   f"\"$(sed 's/\"/\"\"/g' {SERVER_PASSWORD_DIR}/password)\" "
                   f"> {AUTH_DIR}/userlist.txt")


def _userlist_writer(stack: Stack) -> dict:
    """The app role's password is in a Secret the render never sees (the team's): this init
    container writes the userlist from it into memory."""
    return job_container(
        "userlist", stack.pgbouncer.image, small_resources(),
        command=["/bin/sh", "-c", USERLIST_SCRIPT],
        env=[{"name": "PGB_USER", "value": stack.postgres.app_user}],
        volumeMounts=[{"name": "auth", "mountPath": AUTH_DIR},
                      {"name": "server-password", "mountPath": SERVER_PASSWORD_DIR,
                       "readOnly": True}])


def manifests(stack: Stack) -> list[dict]:
    pgb, external = stack.pgbouncer, writes_userlist(stack)
    if not pgb.enabled:
        return []
    ini = pgbouncer_ini(stack)
    sources = [{"configMap": {"name": named(stack, PGBOUNCER), "items": [
        {"key": "pgbouncer.ini", "path": "pgbouncer.ini"}]}}]
    if not external:
        sources.append({"secret": {"name": named(stack, PGB_SECRET), "items": [
            {"key": "userlist.txt", "path": "userlist.txt"}]}})
    volumes = [{"name": "config", "projected": {"defaultMode": 0o440, "sources": sources}},
               empty_dir("tmp")]
    if external:
        secret, key = app_password(stack)
        volumes += [empty_dir("auth", "Memory"), {"name": "server-password", "secret": {
            "secretName": secret, "defaultMode": 0o440,
            "items": [{"key": key, "path": "password"}]}}]
    main = _pgbouncer(stack)
    extra = {}
    if external:
        main["volumeMounts"].append({"name": "auth", "mountPath": AUTH_DIR, "readOnly": True})
        extra["initContainers"] = [_userlist_writer(stack)]
    spec = pod_spec(stack, PGBOUNCER, pgb.run_as_user,
                    [main, _exporter(stack, app_password(stack))],
                    volumes=volumes, terminationGracePeriodSeconds=30,
                    host_required=True, **extra)
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
    if not stack.pgbouncer.enabled or stack.postgres.external:
        return []  # a managed PostgreSQL: an egress rule (synth.network.external)
    out = [Flow(PGBOUNCER, POSTGRES, PORTS.postgres)]
    if stack.postgres.read_replicas and stack.postgres.engine == "statefulset":
        out.append(Flow(PGBOUNCER, POSTGRES_REPLICA, PORTS.postgres))
    return out

"""PgBouncer: connection pooling in front of a PostgreSQL.

On its own: `PgBouncer("pool", PgBouncerArgs(namespace="shop", server=Server(host=...,
password_secret=...)), opts)` deploys pool-pgbouncer in front of an existing server. Its pods
write their userlist from the server's existing Secret (an init container), and the exporter
reads the same Secret; the program reads it too, only for the secret `url` outputs. In a
Topology it registers the stack's share, in front of the stack's PostgreSQL.
"""

from __future__ import annotations

import base64

import pulumi

from phasestack.components import instance, kube
from phasestack.model import PgBouncerArgs
from phasestack.synth import pgbouncer
from phasestack.synth.wiring import PGB_SECRET, PGBOUNCER, named


def _decode(data, key: str, secret: str) -> str:
    value = kube.field(data, key) if data else None
    if value is None:
        raise ValueError(f"Secret {secret!r} has no key {key!r}")
    return base64.b64decode(value).decode()


def _server_password(parent: pulumi.Resource, name: str, args: PgBouncerArgs
                     ) -> pulumi.Output[str]:
    """The existing server's password, read from its Secret (secret from the start)."""
    server = args.server
    existing = kube.resource_class("Secret").get(
        f"{name}-server-password", f"{args.namespace}/{server.password_secret}",
        opts=pulumi.ResourceOptions(parent=parent))
    return pulumi.Output.secret(existing.data.apply(
        lambda d: _decode(d, server.password_key, server.password_secret)))


class PgBouncer(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    read_database: pulumi.Output[str]
    url: pulumi.Output[str] | None
    read_url: pulumi.Output[str] | None
    userlist_secret_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: PgBouncerArgs | kube.KubeArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:PgBouncer", name, None, opts)
        share = instance.share(self, name, args, "pgbouncer")
        stack, pg = share.stack, share.stack.postgres
        # in a Topology: the stack's app password (none for a managed server: the team's)
        password = (_server_password(self, name, args) if isinstance(args, PgBouncerArgs)
                    else share.credentials.get("appPassword"))
        pods = kube.Group(self, share.provider, share.depends_on, aliases=share.aliases)
        pods.add_all(share.docs)
        service = pods.require("Service", named(stack, PGBOUNCER))
        self.host = kube.service_dns(service)
        self.port = kube.port_of(service, "pgbouncer")
        self.database = pulumi.Output.from_input(pg.database)
        self.read_database = pulumi.Output.from_input(pgbouncer.ro_database(stack))
        self.url = instance.url("postgresql", pg.app_user, password, self.host, self.port,
                                pg.database)
        self.read_url = instance.url("postgresql", pg.app_user, password, self.host, self.port,
                                     pgbouncer.ro_database(stack))
        # the stack's generated userlist Secret, unless the pods write it from the team's
        self.userlist_secret_name = None if pgbouncer.writes_userlist(stack) else \
            pulumi.Output.from_input(named(stack, PGB_SECRET))
        self.register_outputs({"host": self.host, "port": self.port, "database": self.database,
                               "read_database": self.read_database,
                               **kube.present(url=self.url, read_url=self.read_url,
                                              userlist_secret_name=self.userlist_secret_name)})

"""PgBouncer: connection pooling in front of an existing PostgreSQL, on its own.

`PgBouncer("pool", PgBouncerArgs(namespace="shop", server=Server(host=..., password_secret=...)),
opts)` deploys pool-pgbouncer: a stack's PgBouncer in front of its postgres.external. Its pods
write their userlist from the server's existing Secret (an init container), and the exporter
reads the same Secret; the program reads it too, only for the secret `url` outputs. In a
stack, Database registers it.
"""

from __future__ import annotations

import base64

import pulumi

from phasestack.components import instance, kube
from phasestack.model import PgBouncerArgs
from phasestack.synth import pgbouncer
from phasestack.synth.wiring import PGBOUNCER, named


def _decode(data, key: str, secret: str) -> str:
    value = kube.field(data, key) if data else None
    if value is None:
        raise ValueError(f"Secret {secret!r} has no key {key!r}")
    return base64.b64decode(value).decode()


class PgBouncer(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    read_database: pulumi.Output[str]
    url: pulumi.Output[str]
    read_url: pulumi.Output[str]

    def __init__(self, name: str, args: PgBouncerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:PgBouncer", name, None, opts)
        stack, server = args.stack(instance.prefix(name)), args.server
        existing = kube.resource_class("Secret").get(
            f"{name}-server-password", f"{args.namespace}/{server.password_secret}",
            opts=pulumi.ResourceOptions(parent=self))
        password = pulumi.Output.secret(existing.data.apply(
            lambda d: _decode(d, server.password_key, server.password_secret)))
        pods = kube.Group(self, None)
        pods.add_all(pgbouncer.manifests(stack))
        service = pods.require("Service", named(stack, PGBOUNCER))
        self.host = kube.service_dns(service)
        self.port = kube.port_of(service, "pgbouncer")
        self.database = pulumi.Output.from_input(server.database)
        self.read_database = pulumi.Output.from_input(pgbouncer.ro_database(stack))
        self.url = instance.url("postgresql", server.user, password, self.host, self.port,
                                server.database)
        self.read_url = instance.url("postgresql", server.user, password, self.host, self.port,
                                     pgbouncer.ro_database(stack))
        self.register_outputs({"host": self.host, "port": self.port, "database": self.database,
                               "read_database": self.read_database,
                               "url": self.url, "read_url": self.read_url})

"""PgBouncer: connection pooling in front of an existing PostgreSQL, on its own.

`PgBouncer("pool", PgBouncerArgs(namespace="shop", server=Server(host=..., password_secret=...)),
opts)` deploys pool-pgbouncer. The server's password is read from its existing Secret by the
program (a secret Output from then on) into the userlist Secret PgBouncer authenticates clients
and the server with; the exporter reads the same Secret. In a stack, Database registers it.
"""

from __future__ import annotations

import base64

import pulumi

from phasestack.components import instance, kube
from phasestack.model import PgBouncerArgs
from phasestack.synth import pgbouncer, secrets
from phasestack.synth.common import meta
from phasestack.synth.wiring import PGB_SECRET, PGBOUNCER, named


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
    userlist_secret_name: pulumi.Output[str]
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
        userlist = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": meta(stack, PGB_SECRET, "credentials"),
                    "stringData": {"userlist.txt": ""}}
        group = kube.Group(self, None)
        users = group.add(userlist, {"string_data": {"userlist.txt": pulumi.Output.secret(
            password.apply(lambda pw: secrets.userlist(stack, pw)))}})
        pods = kube.Group(self, None, [users])
        pods.add_all(pgbouncer.manifests(stack, server))
        service = pods.require("Service", named(stack, PGBOUNCER))
        self.host = kube.service_dns(service)
        self.port = kube.port_of(service, "pgbouncer")
        self.database = pulumi.Output.from_input(server.database)
        self.read_database = pulumi.Output.from_input(pgbouncer.ro_database(stack))
        self.userlist_secret_name = pulumi.Output.from_input(named(stack, PGB_SECRET))
        self.url = instance.url("postgresql", server.user, password, self.host, self.port,
                                server.database)
        self.read_url = instance.url("postgresql", server.user, password, self.host, self.port,
                                     pgbouncer.ro_database(stack))
        self.register_outputs({"host": self.host, "port": self.port, "database": self.database,
                               "read_database": self.read_database,
                               "userlist_secret_name": self.userlist_secret_name,
                               "url": self.url, "read_url": self.read_url})

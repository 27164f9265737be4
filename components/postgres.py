"""Postgres: a PostgreSQL primary and its streaming read replicas, on their own.

`Postgres("orders", PostgresArgs(namespace="shop", read_replicas=1), opts)` deploys
orders-postgres (and orders-postgres-replica) with its own Secret of four generated passwords;
`url` and `read_url` are the app role's secret connection URLs. In a Topology it registers the
stack's share (none with postgres.external: a managed server is an endpoint, not resources).
"""

from __future__ import annotations

import pulumi

from phasestack.components import instance, kube
from phasestack.model import PostgresArgs
from phasestack.synth.wiring import PG_SECRET, POSTGRES, POSTGRES_RO, named, secret_key


class Postgres(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    read_host: pulumi.Output[str] | None
    database: pulumi.Output[str]
    user: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    password_key: pulumi.Output[str]
    url: pulumi.Output[str] | None
    read_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: PostgresArgs | kube.KubeArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Postgres", name, None, opts)
        share = instance.share(self, name, args, "postgres")
        stack, pg = share.stack, share.stack.postgres
        group = kube.Group(self, share.provider, share.depends_on, stack.retain_data)
        group.add_all(share.docs)
        primary = group.require("Service", named(stack, POSTGRES))
        self.host = kube.service_dns(primary)
        self.port = kube.port_of(primary, "postgres")
        self.read_host = kube.dns_of(group.get("Service", named(stack, POSTGRES_RO)))
        self.database = pulumi.Output.from_input(pg.database)
        self.user = pulumi.Output.from_input(pg.app_user)
        self.secret_name = pulumi.Output.from_input(named(stack, PG_SECRET))
        self.password_key = pulumi.Output.from_input(secret_key("appPassword"))
        password = share.credentials.get("appPassword")  # none: credentials existing
        self.url = instance.url("postgresql", pg.app_user, password, self.host, self.port,
                                pg.database)
        # without replicas the primary serves reads too
        self.read_url = instance.url("postgresql", pg.app_user, password,
                                     self.read_host or self.host, self.port, pg.database)
        self.register_outputs({"host": self.host, "port": self.port, "database": self.database,
                               "user": self.user, "secret_name": self.secret_name,
                               "password_key": self.password_key,
                               **kube.present(read_host=self.read_host, url=self.url,
                                              read_url=self.read_url)})

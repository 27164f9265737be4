"""Postgres: a PostgreSQL primary and its streaming read replicas, on their own.

`Postgres("orders", PostgresArgs(namespace="shop", read_replicas=1), opts)` deploys
orders-postgres (and orders-postgres-replica) with its own Secret of four generated passwords;
`url` and `read_url` are the app role's secret connection URLs. In a Topology it registers the
stack's share (none with postgres.external: a managed server is an endpoint, not resources).
With engine: cloudnativepg it registers a CloudNativePG Cluster (and, unless
install_operator is false, the operator as a child first); host is then <name>-postgres-rw.
"""

from __future__ import annotations

import pulumi

from phasestack.components import instance, kube
from phasestack.components.cnpg_operator import CloudNativePGOperator
from phasestack.model import PostgresArgs
from phasestack.synth import cnpg
from phasestack.synth.wiring import (
    PG_SECRET,
    PORTS,
    POSTGRES,
    POSTGRES_RO,
    POSTGRES_RW,
    dns,
    named,
    secret_key,
)

# a copy from the old primary (import_from_statefulset) or a restore takes a while per GiB
CLUSTER_READY = pulumi.CustomTimeouts(create="60m", update="30m")


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
        depends_on = list(share.depends_on)
        if cnpg.enabled(stack) and pg.cloudnativepg.install_operator:
            # its webhooks must answer before the Cluster is accepted
            depends_on.append(CloudNativePGOperator(
                f"{name}-cnpg-operator", opts=pulumi.ResourceOptions(
                    parent=self, provider=share.provider)))
        group = kube.Group(self, share.provider, depends_on, stack.retain_data)
        for doc in share.docs:  # a Cluster is awaited ready (synth.cnpg.WAIT_READY)
            group.add(doc, timeouts=CLUSTER_READY if doc["kind"] == "Cluster" else None)
        if cnpg.enabled(stack):  # the operator makes the Services (<cluster>-rw, -ro)
            self.host = pulumi.Output.from_input(dns(stack, POSTGRES_RW))
            self.port = pulumi.Output.from_input(PORTS.postgres)
            self.read_host = (pulumi.Output.from_input(dns(stack, POSTGRES_RO))
                              if pg.read_replicas else None)
        else:
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

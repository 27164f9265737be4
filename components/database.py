"""Database: PostgreSQL primary and read replicas (or a managed one's endpoints, with
postgres.external), and PgBouncer in front when enabled."""

from __future__ import annotations

import pulumi

from phasestack.components import instance, kube
from phasestack.synth.common import PGB_SECRET, PGBOUNCER, POSTGRES, POSTGRES_RO, app_password


class DatabaseArgs(kube.KubeArgs):
    pass


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    read_host: pulumi.Output[str] | None
    pgbouncer_host: pulumi.Output[str] | None
    pgbouncer_port: pulumi.Output[int] | None
    app_host: pulumi.Output[str]
    app_port: pulumi.Output[int]
    secret_name: pulumi.Output[str]
    userlist_secret_name: pulumi.Output[str] | None
    database: pulumi.Output[str]
    url: pulumi.Output[str] | None

    def __init__(self, name: str, args: DatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Database", name, None, opts)
        stack = args.stack
        group = kube.Group(self, args.provider, args.depends_on)
        group.add_all(args.docs)
        ext = stack.postgres.external
        if ext:
            self.host = pulumi.Output.from_input(ext.host)
            self.port = pulumi.Output.from_input(ext.port)
            self.read_host = pulumi.Output.from_input(ext.read_host) if ext.read_host else None
        else:
            primary = group.require("Service", POSTGRES)
            self.host = kube.service_dns(primary)
            self.port = kube.port_of(primary, "postgres")
            self.read_host = kube.dns_of(group.get("Service", POSTGRES_RO))
        bouncer = group.get("Service", PGBOUNCER)
        self.pgbouncer_host = kube.dns_of(bouncer)
        self.pgbouncer_port = kube.port_of(bouncer, "pgbouncer")
        # what the API connects to: PgBouncer when it is deployed, else the primary
        self.app_host = self.pgbouncer_host or self.host
        self.app_port = self.pgbouncer_port or self.port
        self.secret_name = pulumi.Output.from_input(app_password(stack)[0])
        self.userlist_secret_name = (pulumi.Output.from_input(PGB_SECRET)
                                     if stack.pgbouncer.enabled and not ext else None)
        self.database = pulumi.Output.from_input(stack.postgres.database)
        # the app's read-write URL, through PgBouncer when it is deployed (secret; none for a
        # managed PostgreSQL: its password is the team's, which the program does not read)
        self.url = instance.url("postgresql", stack.postgres.app_user,
                                args.credentials.get("appPassword"), self.app_host,
                                self.app_port, stack.postgres.database)
        self.register_outputs({
            "host": self.host, "port": self.port, "app_host": self.app_host,
            "app_port": self.app_port, "secret_name": self.secret_name,
            "database": self.database,
            **kube.present(read_host=self.read_host, pgbouncer_host=self.pgbouncer_host,
                           pgbouncer_port=self.pgbouncer_port, url=self.url,
                           userlist_secret_name=self.userlist_secret_name)})

"""Redis: standalone server or Redis Cluster (StatefulSet, bootstrap Job, exporter)."""

from __future__ import annotations

import pulumi

from phasestack.components import kube
from phasestack.synth.common import REDIS, REDIS_HEADLESS, REDIS_SECRET


class RedisArgs(kube.KubeArgs):
    pass


class Redis(pulumi.ComponentResource):
    host: pulumi.Output[str]
    headless_host: pulumi.Output[str] | None
    port: pulumi.Output[int]
    secret_name: pulumi.Output[str]
    mode: pulumi.Output[str]
    masters: pulumi.Output[int]

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Redis", name, None, opts)
        group = kube.Group(self, args.provider, args.depends_on)
        group.add_all(args.docs)
        service = group.require("Service", REDIS)
        self.host = kube.service_dns(service)
        self.headless_host = kube.dns_of(group.get("Service", REDIS_HEADLESS))
        self.port = kube.port_of(service, "redis")
        self.secret_name = pulumi.Output.from_input(REDIS_SECRET)
        self.mode = pulumi.Output.from_input(args.stack.redis.mode)
        self.masters = pulumi.Output.from_input(args.stack.redis.masters)
        self.register_outputs({"host": self.host, "port": self.port,
                               "secret_name": self.secret_name, "mode": self.mode,
                               "masters": self.masters,
                               **kube.present(headless_host=self.headless_host)})

"""Redis: standalone server or Redis Cluster (StatefulSet, bootstrap Job, exporter).

On its own: `Redis("sessions", RedisArgs(namespace="shop", mode="cluster", masters=3,
replicas_per_master=1), opts)` deploys sessions-redis with its own Secret; in a Topology it
registers the stack's share.
"""

from __future__ import annotations

import pulumi

from phasestack.components import instance, kube
from phasestack.model import RedisArgs
from phasestack.synth.inject import redis_cluster_nodes
from phasestack.synth.redis import APP_KEY, APP_USER
from phasestack.synth.wiring import REDIS, REDIS_HEADLESS, REDIS_SECRET, named


class Redis(pulumi.ComponentResource):
    host: pulumi.Output[str]
    headless_host: pulumi.Output[str] | None
    port: pulumi.Output[int]
    secret_name: pulumi.Output[str]
    password_key: pulumi.Output[str]
    username: pulumi.Output[str]
    mode: pulumi.Output[str]
    masters: pulumi.Output[int]
    nodes: pulumi.Output[list[str]] | None
    url: pulumi.Output[str] | None

    def __init__(self, name: str, args: RedisArgs | kube.KubeArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Redis", name, None, opts)
        share = instance.share(self, name, args, "redis")
        stack = share.stack
        group = kube.Group(self, share.provider, share.depends_on)
        group.add_all(share.docs)
        service = group.require("Service", named(stack, REDIS))
        self.host = kube.service_dns(service)
        self.headless_host = kube.dns_of(group.get("Service", named(stack, REDIS_HEADLESS)))
        self.port = kube.port_of(service, "redis")
        self.secret_name = pulumi.Output.from_input(named(stack, REDIS_SECRET))
        self.password_key = pulumi.Output.from_input(APP_KEY)
        self.username = pulumi.Output.from_input(APP_USER)
        self.mode = pulumi.Output.from_input(stack.redis.mode)
        self.masters = pulumi.Output.from_input(stack.redis.masters)
        # a cluster client's seeds: REDIS_CLUSTER_NODES' three pods (it learns the others)
        self.nodes = pulumi.Output.from_input(
            redis_cluster_nodes(stack)) if stack.redis.mode == "cluster" else None
        self.url = instance.url("redis", APP_USER, share.credentials.get("redisPassword"),
                                self.host, self.port, "0")
        self.register_outputs({"host": self.host, "port": self.port,
                               "secret_name": self.secret_name,
                               "password_key": self.password_key, "username": self.username,
                               "mode": self.mode, "masters": self.masters,
                               **kube.present(headless_host=self.headless_host,
                                              nodes=self.nodes, url=self.url)})

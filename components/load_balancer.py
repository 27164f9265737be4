"""LoadBalancer: the nginx Deployment in front of the API, and its public endpoint."""

from __future__ import annotations

import pulumi

from components import kube
from phasestack.synth.common import NGINX


class LoadBalancerArgs(kube.KubeArgs):
    pass


class LoadBalancer(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: LoadBalancerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:LoadBalancer", name, None, opts)
        group = kube.Group(self, args.provider, args.depends_on)
        group.add_all(args.docs)
        service = group.require("Service", NGINX)
        self.host = kube.service_dns(service)
        self.port = kube.port_of(service, "http")
        self.endpoint = pulumi.Output.concat("http://", self.host, ":",
                                             self.port.apply(str))
        self.register_outputs({"host": self.host, "port": self.port, "endpoint": self.endpoint})

"""ApiService: the API Deployment, its Services, HPA, PDB and any queue workers."""

from __future__ import annotations

import pulumi

from phasestack.components import kube
from phasestack.synth.common import API, API_HEADLESS


class ApiServiceArgs(kube.KubeArgs):
    pass


class ApiService(pulumi.ComponentResource):
    host: pulumi.Output[str]
    headless_host: pulumi.Output[str] | None
    port: pulumi.Output[int]

    def __init__(self, name: str, args: ApiServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:ApiService", name, None, opts)
        group = kube.Group(self, args.provider, args.depends_on)
        group.add_all(args.docs)
        service = group.require("Service", API)
        self.host = kube.service_dns(service)
        self.headless_host = kube.dns_of(group.get("Service", API_HEADLESS))
        self.port = kube.port_of(service)
        self.register_outputs({"host": self.host, "port": self.port,
                               **kube.present(headless_host=self.headless_host)})

"""LoadBalancer: the nginx Deployment in front of the API, and its endpoints. On its own,
`LoadBalancer("shop", NginxArgs(namespace="shop", api_port=3000), opts)` fronts the
ApiService instance of the same name.

`host`, `port` and `endpoint` are the in-cluster Service (nginx.<namespace>.svc.cluster.local),
reachable from pods only. `external_endpoint` is the address the cloud load balancer gave the
Service (status.loadBalancer.ingress[0], ip or hostname); it is None until one is assigned (and
always under mocks, or on a cluster without a load-balancer controller). Behind an Ingress it is
https://<first host> and `ingress_address` is the controller's address (where DNS points).
"""

from __future__ import annotations

from typing import Any

import pulumi

from phasestack.components import instance, kube
from phasestack.model import NginxArgs
from phasestack.synth.common import NGINX, named


class LoadBalancerArgs(kube.KubeArgs):
    pass


def _get(obj: Any, snake: str, camel: str) -> Any:
    """A field of an output type (snake_case attributes) or a plain dict (camelCase keys)."""
    if obj is None:
        return None
    # output types are dicts too, and warn when read by their camelCase key
    if hasattr(type(obj), snake):
        return getattr(obj, snake)
    if isinstance(obj, dict):
        return obj.get(camel, obj.get(snake))
    return getattr(obj, snake, None)


def ingress_address(status: Any) -> str | None:
    """ip or hostname of a Service's first load-balancer ingress, None while there is none."""
    ingress = _get(_get(status, "load_balancer", "loadBalancer"), "ingress", "ingress") or []
    if not ingress:
        return None
    return _get(ingress[0], "ip", "ip") or _get(ingress[0], "hostname", "hostname") or None


def external_url(status: Any, port: int) -> str | None:
    address = ingress_address(status)
    return f"http://{address}:{int(port)}" if address else None


class LoadBalancer(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    endpoint: pulumi.Output[str]                  # in-cluster: http://nginx.<ns>.svc...:80
    external_endpoint: pulumi.Output[str | None]  # the cloud load balancer's, once assigned
    ingress_address: pulumi.Output[str | None] | None  # the Ingress controller's, with one

    def __init__(self, name: str, args: NginxArgs | LoadBalancerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:LoadBalancer", name, None, opts)
        share = instance.share(self, name, args, "nginx")
        stack = share.stack
        group = kube.Group(self, share.provider, share.depends_on)
        group.add_all(share.docs)
        service = group.require("Service", named(stack, NGINX))
        self.host = kube.service_dns(service)
        self.port = kube.port_of(service, "http")
        self.endpoint = pulumi.Output.concat("http://", self.host, ":",
                                             self.port.apply(str))
        entry = stack.nginx.ingress
        self.ingress_address = None
        if entry.enabled:
            ingress = group.require("Ingress", named(stack, NGINX))
            self.external_endpoint = pulumi.Output.from_input(f"https://{entry.hosts[0]}")
            self.ingress_address = ingress.status.apply(  # type: ignore[attr-defined]
                ingress_address)
        else:
            self.external_endpoint = pulumi.Output.all(
                service.status, self.port).apply(  # type: ignore[attr-defined]
                lambda args: external_url(args[0], args[1]))
        self.register_outputs({"host": self.host, "port": self.port, "endpoint": self.endpoint,
                               "external_endpoint": self.external_endpoint,
                               **kube.present(ingress_address=self.ingress_address)})

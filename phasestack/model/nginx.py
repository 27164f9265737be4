"""The nginx load balancer in front of the API: rate limits, the client's address, its Service
and the Ingress in front of it."""


import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from phasestack.model.base import BODY_SIZE, IMAGE, MANY, URL_PATH, Hpa, Resources, Scaled, Spec
from phasestack.model.egress import network
from phasestack.model.ingress import Ingress


class Nginx(Spec, Scaled):
    enabled: bool = Field(
        True, description="Run nginx in front of the API. false: the API's own (ClusterIP) "
                          "Service is the entry, for the team's Ingress or a port-forward, "
                          "without nginx's rate limits.")
    image: str = Field("nginx:1.27.3-alpine", pattern=IMAGE,
                       description="nginx image (1.27.3+ for `resolve`).")
    exporter_image: str = Field("nginx/nginx-prometheus-exporter:1.3.0", pattern=IMAGE,
                                description="nginx-prometheus-exporter sidecar image.")
    replicas: int = Field(1, ge=1, le=100, description="nginx pods when the HPA is off.")
    hpa: Hpa = Field(
        default_factory=lambda: Hpa(min_replicas=3, max_replicas=6),
        description="Autoscaling of the nginx Deployment.",
    )
    # review 000 (000_f42598e3354b7376.txt), 3. Inadequate Rate Limiting: 300/min, 10/min auth
    rate_limit_per_minute: int = Field(300, ge=1, le=MANY, description="General limit per IP.")
    auth_rate_limit_per_minute: int = Field(10, ge=1, le=MANY, description="Auth limit per IP.")
    auth_path: str = Field("/auth/", pattern=URL_PATH,
                           description="Path prefix the auth limit applies to.")
    burst: int = Field(20, ge=0, le=100_000, description="limit_req burst, general zone.")
    # review 003 (003_dcc3c24c5985e7cb.txt): request size limits
    client_max_body_size: str = Field(
        "1m", pattern=BODY_SIZE, description="Largest request body."
    )
    # An assumption a tenth of what was measured: one worker of the rendered config proxied
    # 50,810 req/s to `return 200` backends (benchmarks/capacity, 2 x Intel Xeon, 2026-12-04);
    # real upstreams, responses and access logs cost more. `plan --calibration` takes yours.
    rps_per_replica: float = Field(
        5000, gt=0, le=MANY,
        description="Requests per second one nginx pod proxies (planner). An assumption, "
                    "below the 50,810 req/s one worker measured on 2 x Intel Xeon "
                    "(README, Measured capacities).")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="100m", memory_request="64Mi",
                                          memory_limit="128Mi"),
        description="nginx pod resources.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs whose X-Forwarded-For is trusted for the client IP. Default none: "
                    "with externalTrafficPolicy Local the connecting address is the client. "
                    "Name your L7 load balancer's range if one sits in front of nginx.",
    )
    trust_public_proxies: bool = Field(
        False,
        description="Allow public ranges in trusted_proxies (a cloud load balancer's published "
                    "ranges); without it only private, loopback and link-local ones are taken.")
    service_type: Literal["LoadBalancer", "NodePort", "ClusterIP"] = Field(
        "LoadBalancer",
        description="Type of the nginx Service. LoadBalancer needs a load-balancer controller "
                    "(every cloud has one) and `pulumi up` waits until it assigns an address; "
                    "NodePort for kind and bare-metal clusters; ClusterIP behind an Ingress.")
    node_port: int | None = Field(
        None, ge=30000, le=32767,
        description="Fixed node port for the http port (NodePort/LoadBalancer); picked by "
                    "Kubernetes if unset.")
    ingress: Ingress = Field(default_factory=Ingress,
                             description="An Ingress with TLS in front of nginx (set "
                                         "service_type: ClusterIP behind it).")
    external_traffic_policy: Literal["Local", "Cluster"] = Field(
        "Local",
        description="Local keeps the client's source address, so limit_req counts per real "
                    "client; Cluster SNATs every request to a node address (use it only where "
                    "the node receiving traffic may run no nginx pod, e.g. kind).")

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            # trusting everyone lets any client pick its own address: no per-IP limit left
            network(cidr, "trusts every address; name the proxies' ranges")
        return value

    @model_validator(mode="after")
    def _public_proxies(self) -> "Nginx":
        public = [c for c in self.trusted_proxies
                  if not ipaddress.ip_network(c, strict=False).is_private]
        if public and not self.trust_public_proxies:
            # a public range lets clients there set their own rate-limit key: splitting the
            # world in two halves ("0.0.0.0/1", "128.0.0.0/1") would trust everyone
            raise ValueError(f"trusted_proxies {', '.join(public)} cover public addresses; "
                             "name your load balancer's range and set trust_public_proxies: "
                             "true to trust it")
        return self

    @property
    def trusted_networks(self) -> list[str]:
        """trusted_proxies in canonical form, as nginx.conf gets them."""
        return [str(ipaddress.ip_network(c, strict=False)) for c in self.trusted_proxies]

    @model_validator(mode="after")
    def _behind_ingress(self) -> "Nginx":
        if self.ingress.enabled and not self.enabled:
            raise ValueError("ingress: routes to nginx, which enabled: false leaves out; turn "
                             "nginx on, or point your own Ingress at the api Service")
        if self.ingress.enabled and not self.trusted_proxies:
            # every request arrives from a controller pod: one client for limit_req
            raise ValueError("ingress: behind the ingress controller every request comes from "
                             "its pods; name the cluster's pod network in trusted_proxies "
                             "(e.g. 10.244.0.0/16), or the rate limits count all clients as "
                             "one")
        return self

    @model_validator(mode="after")
    def _node_port(self) -> "Nginx":
        if self.node_port is not None and self.service_type == "ClusterIP":
            raise ValueError(f"node_port {self.node_port} needs service_type NodePort or "
                             "LoadBalancer (a ClusterIP Service has no node port)")
        return self

"""Topology: the whole stack, composed from the components (DESIGN.md layer 5).

Kubernetes target: synthesize every manifest once (the same call `phasestack render` makes,
with credential placeholders), hand each component its share, and let Credentials put the
secret values into the Secrets. Docker target: one host, one container per service.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from phasestack.catalog import CREDENTIALS, NETWORK, owner_of, owners
from phasestack.components import kube
from phasestack.components.api_service import ApiService, ApiServiceArgs
from phasestack.components.credentials import Credentials, CredentialsArgs, placeholders
from phasestack.components.load_balancer import LoadBalancer, LoadBalancerArgs
from phasestack.components.monitoring import Monitoring
from phasestack.components.network import Network, NetworkArgs
from phasestack.components.pgbouncer import PgBouncer
from phasestack.components.postgres import Postgres
from phasestack.components.redis import Redis
from phasestack.model import Stack
from phasestack.synth import component_of, synthesize


def split(docs: list[dict]) -> dict[str, list[dict]]:
    """Each manifest to exactly one Pulumi child, by its component label through the catalog
    (no second synthesis); the Namespace and NetworkPolicies -> network, Secrets ->
    credentials."""
    out: dict[str, list[dict]] = {g: [] for g in owners()}
    for doc in docs:
        if doc["kind"] in ("Namespace", "NetworkPolicy"):
            out[NETWORK].append(doc)
        elif doc["kind"] == "Secret":
            out[CREDENTIALS].append(doc)
        elif owner := owner_of(component_of(doc)):
            out[owner].append(doc)
        else:
            raise ValueError(f"{kube.logical_name(doc)}: no component owns this manifest "
                             f"(label {component_of(doc)!r})")
    return out


@dataclass
class TopologyArgs:
    stack: Stack
    # the caller's Kubernetes provider (an EKS cluster made in the same program); unset: the
    # provider the stack's kube_context names, or opts.provider
    provider: pulumi.ProviderResource | None = None


class Topology(pulumi.ComponentResource):
    outputs: dict[str, pulumi.Output]

    def __init__(self, name: str, args: TopologyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Topology", name, None, opts)
        stack = args.stack
        child = pulumi.ResourceOptions(parent=self)
        if stack.target == "docker":
            from phasestack.components.docker_host import DockerHost, DockerHostArgs

            creds = Credentials("credentials", CredentialsArgs(stack), child)
            host = DockerHost("docker", DockerHostArgs(stack, creds.values), child)
            self.outputs = {"target": pulumi.Output.from_input("docker"),
                            "endpoint": host.endpoint, "network": host.network_name,
                            "containers": host.container_names}
            self.register_outputs(self.outputs)
            return
        provider = args.provider or (opts.provider if opts else None) or \
            kube.provider("kubernetes", stack, child)
        parts = split(synthesize(stack, placeholders()))
        net = Network("network", NetworkArgs(stack, parts["network"], provider), child)
        after = [net.namespace_resource]
        creds = Credentials("credentials", CredentialsArgs(stack, parts["credentials"], provider,
                                                           after), child)
        ready = [*after, creds]
        # Redis and nginx may be off (issue 14 item 7): no child, no outputs of theirs
        # (was "lb": the alias keeps the URNs of stacks deployed before the catalog, issue 13)
        lb = LoadBalancer("nginx", LoadBalancerArgs(stack, parts["nginx"], provider, ready),
                          pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                              aliases=[pulumi.Alias(name="lb")]))) if stack.has("nginx") else None
        values = creds.values
        redis = Redis("redis", kube.KubeArgs(stack, parts["redis"], provider, ready, values),
                      child) if stack.runs("redis") else None
        cache = stack.redis.external  # a managed Redis: its endpoint is the output
        # PostgreSQL and PgBouncer were one "database" child (issue 13): Postgres takes its URN,
        # PgBouncer's resources keep theirs through aliases naming it as their old parent
        before = pulumi.create_urn("database", "phasestack:index:Database", parent=self)
        pg = Postgres("postgres", kube.KubeArgs(stack, parts["postgres"], provider, ready, values),
                      pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(aliases=[
                          pulumi.Alias(name="database", type_="phasestack:index:Database")]))
                      ) if stack.runs("postgres") else None
        # after PostgreSQL: a CloudNativePG Cluster is awaited ready (its import done) before
        # PgBouncer and the API move to it
        pool = PgBouncer("pgbouncer", kube.KubeArgs(
            stack, parts["pgbouncer"], provider, [*ready, *([pg] if pg else [])], values,
            aliases=[pulumi.Alias(parent=before)]), child) if stack.has("pgbouncer") else None
        server = pg or stack.postgres.external  # in the cluster, or the managed endpoint
        api = ApiService("api", ApiServiceArgs(stack, parts["api"], provider, ready,
                                               migrate_after=[r for r in (pg, pool) if r]),
                         child)
        mon = Monitoring("monitoring", kube.KubeArgs(stack, parts["monitoring"], provider, ready),
                         child)
        self.outputs = {
            "target": pulumi.Output.from_input("kubernetes"),
            "namespace": net.namespace,
            # in-cluster: nginx's, or the API's Service without nginx
            "endpoint": lb.endpoint if lb else pulumi.Output.concat(
                "http://", api.host, ":", api.port.apply(str)),
            "api_host": api.host, "api_port": api.port,
            "postgres_host": pulumi.Output.from_input(server.host),
            "postgres_port": pulumi.Output.from_input(server.port),
            # what the API connects to: PgBouncer when it is deployed, else the server
            "database_host": pulumi.Output.from_input((pool or server).host),
            "database_port": pulumi.Output.from_input((pool or server).port),
            "secret_names": creds.secret_names,
            **kube.present(postgres_read_host=server.read_host, pgbouncer_host=pool and pool.host,
                           # the cloud load balancer's: a null output (absent) until assigned
                           external_endpoint=lb and lb.external_endpoint,
                           ingress_address=lb and lb.ingress_address,
                           redis_host=redis.host if redis else cache and cache.host,
                           redis_port=redis.port if redis else cache and cache.port,
                           prometheus_url=mon.prometheus_url, grafana_url=mon.grafana_url,
                           alertmanager_url=mon.alertmanager_url),
        }
        self.register_outputs(self.outputs)

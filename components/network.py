"""Network: the stack's Namespace and its NetworkPolicies (deny all, then the needed flows)."""

from __future__ import annotations

import pulumi

from phasestack.components import kube


class NetworkArgs(kube.KubeArgs):
    pass


class Network(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    namespace_resource: pulumi.CustomResource
    policy_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Network", name, None, opts)
        namespaces = [d for d in args.docs if d["kind"] == "Namespace"]
        if len(namespaces) != 1:
            raise ValueError(f"Network {name}: expected one Namespace, got {len(namespaces)}")
        # with retain_data a destroy (or a namespace change) leaves the Namespace, and so the
        # data in it, in the cluster (kube.RETAINED_KINDS)
        first = kube.Group(self, args.provider, args.depends_on, args.stack.retain_data)
        self.namespace_resource = first.add(namespaces[0])
        rest = kube.Group(self, args.provider, [*args.depends_on, self.namespace_resource])
        rest.add_all([d for d in args.docs if d["kind"] != "Namespace"])
        self.namespace = self.namespace_resource.metadata.apply(  # type: ignore[attr-defined]
            lambda md: kube.field(md, "name"))
        self.policy_names = pulumi.Output.from_input(sorted(
            d["metadata"]["name"] for d in args.docs if d["kind"] == "NetworkPolicy"))
        self.register_outputs({"namespace": self.namespace, "policy_names": self.policy_names})

"""CloudNativePGOperator: the CloudNativePG operator, from its vendored release manifest.

`CloudNativePGOperator("cnpg", opts=...)` applies the operator's Namespace, CRDs, RBAC, webhooks
and Deployment (phasestack.synth.cnpg_operator, version pinned by the model). One per cluster:
its objects are cluster-wide, so a second stack in the same cluster sets
postgres.cloudnativepg.install_operator: false. A Postgres with engine: cloudnativepg creates
one as its child and registers its Cluster after it (the operator's webhooks must answer).
"""

from __future__ import annotations

import pulumi

from phasestack.components import kube
from phasestack.model.cnpg import OPERATOR_NAMESPACE, OPERATOR_VERSION
from phasestack.synth import cnpg_operator


class CloudNativePGOperator(pulumi.ComponentResource):
    version: pulumi.Output[str]
    namespace: pulumi.Output[str]
    crds: pulumi.Output[list[str]]

    def __init__(self, name: str, args: None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:CloudNativePGOperator", name, None, opts)
        # the caller's provider (opts.provider) is inherited through parent=self
        group = kube.Group(self, None)
        docs = cnpg_operator.manifests()
        group.add_all(docs)
        self.version = pulumi.Output.from_input(OPERATOR_VERSION)
        self.namespace = pulumi.Output.from_input(OPERATOR_NAMESPACE)
        self.crds = pulumi.Output.from_input(sorted(
            d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"))
        self.register_outputs({"version": self.version, "namespace": self.namespace,
                               "crds": self.crds})

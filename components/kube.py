"""Register synthesized manifests as typed pulumi_kubernetes resources (DESIGN.md layer 5).

The manifests are the same camelCase dicts `phasestack render` writes; pulumi_kubernetes takes
camelCase dicts as inputs, so each top-level field is passed through unchanged. Logical names
are deterministic ("<kind>/<namespace>/<name>", lowercased) and metadata.name is kept exactly as
synthesized, so Pulumi never adds an auto-naming suffix (Service DNS names are wiring).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import pulumi

from phasestack.model import Stack
from phasestack.synth.wiring import CLUSTER_DOMAIN

# kind -> (pulumi_kubernetes module, class): the API versions the synthesizers emit
KINDS: dict[str, tuple[str, str]] = {
    "Namespace": ("core.v1", "Namespace"),
    "ServiceAccount": ("core.v1", "ServiceAccount"),
    "Secret": ("core.v1", "Secret"),
    "ConfigMap": ("core.v1", "ConfigMap"),
    "Service": ("core.v1", "Service"),
    "PersistentVolumeClaim": ("core.v1", "PersistentVolumeClaim"),
    "Deployment": ("apps.v1", "Deployment"),
    "StatefulSet": ("apps.v1", "StatefulSet"),
    "Job": ("batch.v1", "Job"),
    "CronJob": ("batch.v1", "CronJob"),
    "HorizontalPodAutoscaler": ("autoscaling.v2", "HorizontalPodAutoscaler"),
    "PodDisruptionBudget": ("policy.v1", "PodDisruptionBudget"),
    "NetworkPolicy": ("networking.v1", "NetworkPolicy"),
    "Ingress": ("networking.v1", "Ingress"),
    "Role": ("rbac.v1", "Role"),
    "RoleBinding": ("rbac.v1", "RoleBinding"),
    "ClusterRole": ("rbac.v1", "ClusterRole"),
    "ClusterRoleBinding": ("rbac.v1", "ClusterRoleBinding"),
    # the CloudNativePG operator's release manifest (components/cnpg_operator.py)
    "CustomResourceDefinition": ("apiextensions.v1", "CustomResourceDefinition"),
    "MutatingWebhookConfiguration": ("admissionregistration.v1", "MutatingWebhookConfiguration"),
    "ValidatingWebhookConfiguration": ("admissionregistration.v1",
                                       "ValidatingWebhookConfiguration"),
}
# custom resources the synthesizers emit (CloudNativePG's): apiextensions.CustomResource
CUSTOM_API_VERSIONS = frozenset({"postgresql.cnpg.io/v1"})
API_VERSIONS = {
    "core.v1": "v1", "apps.v1": "apps/v1", "batch.v1": "batch/v1",
    "autoscaling.v2": "autoscaling/v2", "policy.v1": "policy/v1",
    "networking.v1": "networking.k8s.io/v1", "rbac.v1": "rbac.authorization.k8s.io/v1",
    "apiextensions.v1": "apiextensions.k8s.io/v1",
    "admissionregistration.v1": "admissionregistration.k8s.io/v1",
}
# manifest field -> constructor keyword (everything else in a manifest is apiVersion/kind)
FIELDS = {
    "metadata": "metadata", "spec": "spec", "data": "data", "binaryData": "binary_data",
    "stringData": "string_data", "type": "type", "immutable": "immutable",
    "automountServiceAccountToken": "automount_service_account_token",
    "imagePullSecrets": "image_pull_secrets", "rules": "rules", "roleRef": "role_ref",
    "subjects": "subjects", "aggregationRule": "aggregation_rule", "webhooks": "webhooks",
}


def resource_class(kind: str) -> type[pulumi.CustomResource]:
    if kind not in KINDS:
        raise ValueError(f"no pulumi_kubernetes class registered for kind {kind!r}")
    module, cls = KINDS[kind]
    return getattr(importlib.import_module(f"pulumi_kubernetes.{module}"), cls)


def logical_name(doc: dict) -> str:
    md = doc["metadata"]
    parts = [doc["kind"], md.get("namespace", ""), md["name"]] if md.get("namespace") \
        else [doc["kind"], md["name"]]
    return "/".join(parts).lower()


def register(doc: dict, opts: pulumi.ResourceOptions,
             overrides: dict[str, Any] | None = None) -> pulumi.CustomResource:
    """One manifest -> one typed resource. `overrides` replaces whole fields (Secret values)."""
    kind = doc["kind"]
    if doc.get("apiVersion") in CUSTOM_API_VERSIONS:
        from pulumi_kubernetes.apiextensions import CustomResource

        return CustomResource(logical_name(doc), api_version=doc["apiVersion"], kind=kind,
                              metadata=doc["metadata"], spec=doc["spec"], opts=opts)
    module, _ = KINDS.get(kind, ("", ""))
    if module and doc.get("apiVersion") != API_VERSIONS[module]:
        raise ValueError(f"{logical_name(doc)}: apiVersion {doc.get('apiVersion')!r}, "
                         f"expected {API_VERSIONS[module]!r}")
    inputs: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("apiVersion", "kind"):
            continue
        if key not in FIELDS:
            raise ValueError(f"{logical_name(doc)}: unsupported manifest field {key!r}")
        inputs[FIELDS[key]] = value
    inputs.update(overrides or {})
    return resource_class(kind)(logical_name(doc), opts=opts, **inputs)


def provider(name: str, stack: Stack, opts: pulumi.ResourceOptions | None = None):
    """One explicit provider per stack: kube_context picks kind or a production cluster.

    ConfigMaps are mutable: an edited nginx.conf or pgbouncer.ini is an update in place (the
    pods roll through their config-hash annotation), not a delete-and-recreate of a ConfigMap
    that running pods mount."""
    from pulumi_kubernetes import Provider

    return Provider(name, context=stack.kube_context, namespace=stack.namespace,
                    enable_config_map_mutable=True, opts=opts)


def field(obj: Any, name: str) -> Any:
    """Read an output-type object or a plain dict (mocks return dicts) the same way."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def service_dns(service: pulumi.CustomResource) -> pulumi.Output[str]:
    """<name>.<namespace>.svc.cluster.local from the registered Service's own metadata."""
    return service.metadata.apply(  # type: ignore[attr-defined]
        lambda md: f"{field(md, 'name')}.{field(md, 'namespace')}.{CLUSTER_DOMAIN}")


# What holds data: with `retain_data` Pulumi forgets these on delete instead of deleting them
# (deleting a Namespace deletes every claim in it, the StatefulSets' included).
# A CloudNativePG Cluster owns its claims (deleting it deletes them). Always forgotten, never
# deleted: a CRD, whose deletion deletes every object of its kind in the whole cluster.
RETAINED_KINDS = frozenset({"Namespace", "PersistentVolumeClaim", "Cluster"})
ALWAYS_RETAINED = frozenset({"CustomResourceDefinition"})


class Group:
    """Registers a component's manifests as children of it; keeps them by (kind, name)."""

    def __init__(self, parent: pulumi.Resource, provider_: pulumi.ProviderResource | None,
                 depends_on: list[pulumi.Resource] | None = None, retain_data: bool = False,
                 aliases: list[pulumi.Alias] | None = None):
        self.parent, self.provider, self.depends_on = parent, provider_, depends_on or []
        self.retain_data, self.aliases = retain_data, aliases or None
        self.resources: dict[tuple[str, str], pulumi.CustomResource] = {}

    def add(self, doc: dict, overrides: dict[str, Any] | None = None,
            timeouts: pulumi.CustomTimeouts | None = None) -> pulumi.CustomResource:
        retain = (self.retain_data and doc["kind"] in RETAINED_KINDS) \
            or doc["kind"] in ALWAYS_RETAINED
        opts = pulumi.ResourceOptions(parent=self.parent, provider=self.provider,
                                      depends_on=self.depends_on or None,
                                      retain_on_delete=retain or None, custom_timeouts=timeouts,
                                      aliases=self.aliases)
        res = register(doc, opts, overrides)
        self.resources[(doc["kind"], doc["metadata"]["name"])] = res
        return res

    def add_all(self, docs: list[dict]) -> None:
        for doc in docs:
            self.add(doc)

    def get(self, kind: str, name: str) -> pulumi.CustomResource | None:
        return self.resources.get((kind, name))

    def require(self, kind: str, name: str) -> pulumi.CustomResource:
        """A resource the component's outputs are built from; its absence is a wiring bug."""
        found = self.get(kind, name)
        if found is None:
            raise ValueError(f"{type(self.parent).__name__}: no {kind} {name!r} among its "
                             "manifests")
        return found


@dataclass
class KubeArgs:
    """What every Kubernetes component takes: its share of the synthesized manifests."""

    stack: Stack
    docs: list[dict]
    provider: pulumi.ProviderResource | None = None
    depends_on: list[pulumi.Resource] = dc_field(default_factory=list)
    # the stack's credential values (secret Outputs), for the connection URLs a component
    # exports
    credentials: dict[str, pulumi.Output[str]] = dc_field(default_factory=dict)
    # where the resources were registered before a URN move (each resource's aliases)
    aliases: list[pulumi.Alias] = dc_field(default_factory=list)


def port_of(service: pulumi.CustomResource | None, name: str | None = None
            ) -> pulumi.Output[int] | None:
    """The Service's port (by port name, else the first); ints even where mocks send floats."""
    if service is None:
        return None

    def pick(spec: Any) -> int:
        ports = field(spec, "ports") or []
        chosen = next((p for p in ports if name is None or field(p, "name") == name), None)
        if chosen is None:
            raise ValueError(f"service has no port named {name!r}")
        return int(field(chosen, "port"))

    return service.spec.apply(pick)  # type: ignore[attr-defined]


def dns_of(service: pulumi.CustomResource | None) -> pulumi.Output[str] | None:
    return None if service is None else service_dns(service)


def url_of(service: pulumi.CustomResource | None) -> pulumi.Output[str] | None:
    if service is None:
        return None
    return pulumi.Output.concat("http://", service_dns(service), ":",
                                port_of(service).apply(str))


def present(**outputs: Any) -> dict[str, Any]:
    """Only the outputs a stack has (PgBouncer's exist only when it is deployed)."""
    return {k: v for k, v in outputs.items() if v is not None}

"""Pure synthesizers: Stack -> list of Kubernetes manifests (DESIGN.md layer 4)."""

from __future__ import annotations

from phasestack.catalog import CATALOG
from phasestack.model import Stack


def components() -> dict:
    """Component key -> its synthesizer (phasestack.catalog, the one table). Imported when
    asked for: `phasestack plan` reads synth.prometheus and synth.redis, not the rest."""
    return {c.key: c.module for c in CATALOG}

# Apply order: what others reference comes first; Jobs (the schema migration, the Redis
# Cluster bootstrap) before the Deployments whose new code needs what they did.
# (Cluster and ScheduledBackup: CloudNativePG's, after the Secret and ConfigMap they name)
KIND_ORDER = ("Namespace", "ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding",
              "ClusterRole", "ClusterRoleBinding", "PersistentVolumeClaim", "Service",
              "StatefulSet", "Cluster", "ScheduledBackup", "Job", "CronJob", "Deployment",
              "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy")


def order_key(doc: dict) -> tuple:
    kind = doc["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, doc["metadata"].get("namespace", ""), doc["metadata"]["name"]


def running(stack: Stack) -> list:
    """The synthesizers of the components the stack runs in the cluster (catalog order)."""
    return [c.module for c in CATALOG if stack.runs(c.key)]


def flows(stack: Stack) -> list:
    """Every connection between the stack's pods (synth.wiring.Flow)."""
    return [f for module in running(stack) for f in module.flows(stack)]


def synthesize(stack: Stack, secret_values: dict[str, str]) -> list[dict]:
    """Every manifest of the stack, in apply order. secret_values: see synth.secrets."""
    from phasestack.synth import network, secrets  # here: `plan` reads synth.prometheus alone

    docs = [network.namespace(stack), *secrets.manifests(stack, secret_values)]
    for module in running(stack):
        docs.extend(module.manifests(stack))
    docs.extend(network.policies(stack, flows(stack)))
    return sorted(docs, key=order_key)


def component_of(doc: dict) -> str:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")

"""What the CloudNativePG operator makes from a rendered Cluster, for the wiring tests: its
instance pods' labels (its own, then the Cluster's inheritedMetadata, which win: the operator's
InheritLabels) and its Services (<cluster>-rw, -ro, -r)."""

from __future__ import annotations

ROLES = ("primary", "replica")


def pods(doc: dict) -> list[dict[str, str]]:
    """One label set per role of a Cluster's instances."""
    if doc["kind"] != "Cluster":
        return []
    name = doc["metadata"]["name"]
    own = {"cnpg.io/cluster": name, "app.kubernetes.io/name": "postgresql",
           "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "database",
           "app.kubernetes.io/managed-by": "cloudnative-pg"}
    inherited = doc["spec"].get("inheritedMetadata", {}).get("labels", {})
    roles = ROLES if doc["spec"]["instances"] > 1 else ROLES[:1]
    return [{**own, **inherited, "cnpg.io/instanceRole": role} for role in roles]


def services(doc: dict) -> list[str]:
    if doc["kind"] != "Cluster":
        return []
    return [f"{doc['metadata']['name']}-{suffix}" for suffix in ("rw", "ro", "r")]

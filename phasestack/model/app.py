"""A team's own application on the API and worker pods (issue 14): its environment and
secrets, command, registry credentials, scheduling, annotations and the names of the variables
phasestack injects. Kubernetes names are checked here, so a typo fails `validate`, not the apply.
"""


import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from phasestack.model.base import (  # noqa: F401 - re-exported: the app's Kubernetes names
    DATA_KEY,
    DNS_LABEL,
    ENV_NAME,
    LABEL_VALUE,
    META_KEY,
    OBJECT_NAME,
    Spec,
)

AFFINITY_KEYS = frozenset({"nodeAffinity", "podAffinity", "podAntiAffinity"})


def matching(value, pattern: str, what: str):
    """`value` (a list, or a dict's keys) when every item matches `pattern`; else ValueError
    naming the ones that do not."""
    bad = sorted(k for k in value if not re.fullmatch(pattern, k))
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))}: not {what}")
    return value


class SecretKey(Spec):
    secret: str = Field(pattern=OBJECT_NAME, description="Existing Secret in the namespace.")
    key: str = Field(pattern=DATA_KEY, description="Key in that Secret.")


class EnvFrom(Spec):
    """Every key of an existing Secret or ConfigMap as a variable (Kubernetes envFrom)."""

    secret: str | None = Field(None, pattern=OBJECT_NAME, description="Existing Secret.")
    config_map: str | None = Field(None, pattern=OBJECT_NAME, description="Existing ConfigMap.")
    prefix: str = Field("", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,63})?$",
                        description="Prepended to each key's variable name.")

    @model_validator(mode="after")
    def _one(self) -> "EnvFrom":
        if (self.secret is None) == (self.config_map is None):
            raise ValueError("give exactly one of secret and config_map")
        return self


class Toleration(Spec):
    key: str | None = Field(None, pattern=META_KEY, description="Taint key; unset: all.")
    operator: Literal["Equal", "Exists"] = Field("Equal", description="Equal or Exists.")
    value: str | None = Field(None, pattern=LABEL_VALUE, description="Taint value (Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; unset: all.")
    toleration_seconds: int | None = Field(None, ge=0, le=10**7,
                                           description="NoExecute: how long the pod stays.")

    @model_validator(mode="after")
    def _exists(self) -> "Toleration":
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key needs operator Exists")
        return self


class Process(Spec):
    """What the API and each worker run: their own environment and command."""

    env: dict[str, str] = Field(default_factory=dict,
                                description="Plain variables (never secrets: they are in the "
                                            "manifest); secrets go in secret_env or env_from.")
    secret_env: dict[str, SecretKey] = Field(
        default_factory=dict, description="Variables from keys of existing Secrets.")
    env_from: list[EnvFrom] = Field(default_factory=list, max_length=50,
                                    description="Whole Secrets or ConfigMaps as variables.")
    command: list[str] = Field(default_factory=list, description="Container command "
                                                                  "override.")
    args: list[str] = Field(default_factory=list, description="Container args override.")

    @field_validator("env", "secret_env")
    @classmethod
    def _env_names(cls, value: dict) -> dict:
        return matching(value, ENV_NAME, "a valid variable name (letters, digits and _)")

    @model_validator(mode="after")
    def _once(self) -> "Process":
        twice = sorted(set(self.env) & set(self.secret_env))
        if twice:
            raise ValueError(f"{', '.join(twice)}: set in both env and secret_env")
        return self

    def refuse_injected(self, injected: set[str]) -> "None":
        """The variables phasestack sets itself cannot be set again (which one would win
        depends on order)."""
        clash = sorted((set(self.env) | set(self.secret_env)) & injected)
        if clash:
            raise ValueError(f"{', '.join(clash)}: set by phasestack from the stack's wiring "
                             "(rename the injected ones with api.env_names)")


class InjectedNames(Spec):
    """The variables phasestack sets from the stack's wiring, renamed to what the app reads."""

    database_url: str = Field("DATABASE_URL", pattern=ENV_NAME,
                              description="Read-write PostgreSQL URL.")
    database_read_url: str = Field("DATABASE_READ_URL", pattern=ENV_NAME,
                                   description="Read-only PostgreSQL URL.")
    redis_url: str = Field("REDIS_URL", pattern=ENV_NAME,
                           description="Standalone Redis URL.")
    redis_cluster_nodes: str = Field("REDIS_CLUSTER_NODES", pattern=ENV_NAME,
                                     description="Redis Cluster seed list (host:port,...).")

    @model_validator(mode="after")
    def _distinct(self) -> "InjectedNames":
        names = list(self.model_dump().values())
        if len(set(names)) != len(names):
            raise ValueError(f"injected variable names must differ: {', '.join(names)}")
        return self


class Scheduling(Spec):
    """Where the pods may run and what they carry (the API's and its workers')."""

    image_pull_secrets: list[str] = Field(
        default_factory=list, description="Existing docker-registry Secrets for a private "
                                          "image.")
    node_selector: dict[str, str] = Field(default_factory=dict,
                                          description="Node labels the pods need.")
    tolerations: list[Toleration] = Field(default_factory=list, max_length=50,
                                          description="Taints the pods tolerate.")
    affinity: dict[str, Any] = Field(
        default_factory=dict,
        description="Kubernetes Affinity as is (nodeAffinity, podAffinity, podAntiAffinity; "
                    "camelCase, as in a pod spec).")
    pod_annotations: dict[str, str] = Field(default_factory=dict,
                                            description="Annotations on the pods.")
    service_account_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations on the API's ServiceAccount (cloud IAM roles, e.g. "
                    "eks.amazonaws.com/role-arn).")

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        return matching(value, DNS_LABEL, "a Secret name")

    @field_validator("node_selector", "pod_annotations", "service_account_annotations")
    @classmethod
    def _meta_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return matching(value, META_KEY, "a valid label or annotation key")

    @field_validator("affinity")
    @classmethod
    def _affinity(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - AFFINITY_KEYS)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: affinity takes "
                             f"{', '.join(sorted(AFFINITY_KEYS))}")
        return value

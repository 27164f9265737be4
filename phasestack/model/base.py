"""Base of every spec, Kubernetes quantities, pod resources and autoscaling."""


import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

CPU = r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$"
MEMORY = r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$"
# A container image reference's characters (registry[:port]/path[:tag][@digest]): no spaces,
# quotes, semicolons or newlines, which no reference has
IMAGE = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$"
URL_PATH = r"^/[A-Za-z0-9._~/-]*$"
SQL_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
WORKER_NAME = r"^[a-z][a-z0-9-]{0,30}$"
BODY_SIZE = r"^[0-9]+[kmg]?$"
RETENTION = r"^[0-9]+[hdw]$"
INTERVAL = r"^[0-9]+[sm]$"
CONTEXT = r"^\S{1,253}$"
REVIEW_NAME = r"^[A-Za-z0-9._-]{1,64}$"
# an instance's name prefix: a short DNS label and a dash, or nothing (a whole stack)
PREFIX = r"^([a-z]([-a-z0-9]{0,18}[a-z0-9])?-)?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# a Kubernetes object name (DNS subdomain) and a Secret/ConfigMap key
OBJECT_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
DATA_KEY = r"^[-._a-zA-Z0-9]{1,253}$"
# label and annotation keys: an optional DNS-subdomain prefix and a name of at most 63
META_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
# a host name or address: a managed database's endpoint
HOST = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
# What each pattern means, for the error message (issue 12: "cpu_limit: 2GB" printed a regex)
MEANING = {
    CPU: "a Kubernetes CPU quantity such as 500m or 2",
    MEMORY: "a Kubernetes memory quantity such as 256Mi or 1Gi",
    IMAGE: "a container image reference such as nginx:1.27.3-alpine or "
           "registry.example.com/app@sha256:<digest>",
    URL_PATH: "a URL path such as /healthz (letters, digits and . _ ~ / -)",
    SQL_NAME: "a PostgreSQL name: lower-case letters, digits and _, not starting with a digit, "
              "at most 63 characters",
    DNS_LABEL: "a DNS label: lower-case letters, digits and -, at most 63 characters",
    WORKER_NAME: "a name of lower-case letters, digits and -, starting with a letter, at most "
                 "31 characters",
    BODY_SIZE: "an nginx size such as 512k, 1m or 1g",
    RETENTION: "a duration in hours, days or weeks such as 15d",
    INTERVAL: "a duration in seconds or minutes such as 15s",
    CONTEXT: "a kubeconfig context name (no spaces)",
    REVIEW_NAME: "a review name: letters, digits and . _ -",
    PREFIX: "a name prefix such as sessions- : lower-case letters, digits and -, starting "
            "with a letter, at most 20 characters, then a dash",
    ENV_NAME: "a variable name: letters, digits and _, not starting with a digit",
    OBJECT_NAME: "a Kubernetes object name: lower-case letters, digits, - and .",
    DATA_KEY: "a Secret or ConfigMap key: letters, digits, - _ and .",
    META_KEY: "a label or annotation key such as example.com/team",
    LABEL_VALUE: "a label value: letters, digits, - _ and ., at most 63 characters",
    HOST: "a host name or address such as db.example.com",
}
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
# Upper bounds keep every number a real deployment could use and refuse the rest, so the
# planner's arithmetic never overflows (and inf/NaN are refused outright).
MANY = 1_000_000


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True,
                              defer_build=True)


def cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"([0-9]+)([A-Za-z]*)", quantity).groups()
    return int(number) * _MEMORY_UNITS[unit]


class Resources(Spec):
    cpu_request: str = Field("250m", pattern=CPU, description="CPU request per pod.")
    cpu_limit: str = Field("1", pattern=CPU, description="CPU limit per pod.")
    memory_request: str = Field("256Mi", pattern=MEMORY, description="Memory request per pod.")
    memory_limit: str = Field("512Mi", pattern=MEMORY, description="Memory limit per pod.")

    @model_validator(mode="after")
    def _request_within_limit(self) -> "Resources":
        if cpu_cores(self.cpu_request) > cpu_cores(self.cpu_limit):
            raise ValueError(f"cpu_request ({self.cpu_request}) must be <= cpu_limit "
                             f"({self.cpu_limit})")
        if memory_bytes(self.memory_request) > memory_bytes(self.memory_limit):
            raise ValueError(f"memory_request ({self.memory_request}) must be <= memory_limit "
                             f"({self.memory_limit})")
        return self


class Scaled:
    """The pod counts of a Deployment with `replicas` and an `hpa` (API, nginx, workers)."""

    @property
    def max_pods(self) -> int:
        return self.hpa.max_replicas if self.hpa.enabled else self.replicas

    @property
    def min_pods(self) -> int:
        return self.hpa.min_replicas if self.hpa.enabled else self.replicas


class Hpa(Spec):
    enabled: bool = Field(False, description="Create a HorizontalPodAutoscaler.")
    min_replicas: int = Field(2, ge=1, le=1000, description="HPA lower bound.")
    max_replicas: int = Field(6, ge=1, le=1000, description="HPA upper bound.")
    # review 001 (001_9fbd6927d93be06f.txt), 7. Auto-scaling Configuration: TargetValue 70.0
    cpu_target: int = Field(70, ge=10, le=100, description="Target average CPU utilisation, %.")

    @model_validator(mode="after")
    def _bounds(self) -> "Hpa":
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must be <= max_replicas ({self.max_replicas})"
            )
        return self

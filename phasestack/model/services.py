"""The API Deployment and its queue workers (nginx, in front of them: model/nginx.py)."""


from collections import Counter

from pydantic import Field, model_validator

from phasestack.model.app import InjectedNames, Process, Scheduling
from phasestack.model.base import (
    IMAGE,
    URL_PATH,
    WORKER_NAME,
    Hpa,
    Resources,
    Scaled,
)
from phasestack.model.egress import Egress
from phasestack.model.metrics import ApiMetrics
from phasestack.model.migration import Migration

# what synth.api sets on every API and worker container (InjectedNames adds the URL names)
INJECTED = frozenset({"DB_PASSWORD", "DB_POOL_SIZE", "REDIS_USERNAME", "REDIS_PASSWORD",
                      "REDIS_CLUSTER_ENABLED", "REDIS_TLS", "PORT", "WORKER_QUEUE",
                      "WORKER_HEARTBEAT_FILE"})


class Worker(Process, Scaled):
    name: str = Field(pattern=WORKER_NAME, description="Worker Deployment name.")
    image: str | None = Field(None, pattern=IMAGE,
                              description="Worker image; unset: the API's image.")
    replicas: int = Field(1, ge=1, le=1000, description="Worker pods when the HPA is off.")
    # a queue-depth metric plugs in as an External metric (KEDA, prometheus-adapter) in the
    # HPA's metrics; phasestack renders the CPU one (README, Deploying your own app)
    hpa: Hpa = Field(default_factory=lambda: Hpa(min_replicas=1, max_replicas=4),
                     description="Autoscaling of the worker Deployment on CPU.")
    resources: Resources = Field(default_factory=Resources, description="Worker pod resources.")


class Api(Process, Scheduling, Scaled):
    image: str = Field(
        "ghcr.io/stefanprodan/podinfo:6.7.1", pattern=IMAGE,
        description="API image; the default demo app serves /healthz, /readyz and /metrics.",
    )
    port: int = Field(9898, ge=1, le=65535, description="Container port the API listens on.")
    replicas: int = Field(2, ge=1, le=1000, description="Replicas when the HPA is off.")
    hpa: Hpa = Field(default_factory=Hpa, description="Autoscaling of the API Deployment.")
    resources: Resources = Field(default_factory=Resources, description="API pod resources.")
    health_path: str = Field("/healthz", pattern=URL_PATH, description="Liveness probe path.")
    ready_path: str = Field("/readyz", pattern=URL_PATH, description="Readiness probe path.")
    workers: list[Worker] = Field(default_factory=list, max_length=100,
                                  description="Queue consumer Deployments (they inherit the "
                                              "API's env, image and scheduling).")
    env_names: InjectedNames = Field(default_factory=InjectedNames,
                                     description="Names of the variables phasestack injects.")
    metrics: ApiMetrics = Field(default_factory=ApiMetrics,
                                description="The API's Prometheus metrics (or none).")
    egress: Egress = Field(default_factory=Egress,
                           description="Where the API and its workers may connect outside "
                                       "the stack (default: nowhere but the stack and DNS).")
    migration: Migration = Field(default_factory=Migration,
                                 description="Schema migration Job run before each rollout.")

    @property
    def metrics_port(self) -> int:
        return self.metrics.port or self.port

    @model_validator(mode="after")
    def _not_injected(self) -> "Api":
        injected = INJECTED | set(self.env_names.model_dump().values())
        self.refuse_injected(injected)
        for w in self.workers:
            try:
                w.refuse_injected(injected)
            except ValueError as err:
                raise ValueError(f"workers[{w.name}]: {err}") from None
        return self

    @model_validator(mode="after")
    def _unique_workers(self) -> "Api":
        counts = Counter(w.name for w in self.workers)  # linear: 32k workers took 32 s
        twice = sorted(n for n, k in counts.items() if k > 1)
        if twice:
            raise ValueError(f"worker names must be unique: {', '.join(twice)} given twice")
        return self

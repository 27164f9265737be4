"""The whole Stack, with the rules that span components."""


from typing import Literal

from pydantic import Field, field_validator, model_validator

from phasestack.model.base import (
    CONTEXT,
    DNS_LABEL,
    PREFIX,
    REVIEW_NAME,
    Spec,
)
from phasestack.model.data import PgBouncer, Postgres, Redis
from phasestack.model.load import AppProfile, LoadTarget
from phasestack.model.monitoring import Monitoring
from phasestack.model.nginx import Nginx
from phasestack.model.services import Api
from phasestack.phases import PRESETS, deep_merge, preset

PHASES = ("mvp", "phase1", "phase2", "phase3")
# A stack owns its namespace: default-deny policies and pod-security labels would break these.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


class Stack(Spec):
    """A whole topology: what one stack file describes after presets are applied."""

    phase: Literal["mvp", "phase1", "phase2", "phase3"] = Field(
        "mvp", description="Phase preset the stack starts from."
    )
    namespace: str = Field(
        "phasestack", pattern=DNS_LABEL,
        description="Kubernetes namespace the stack owns (not default or kube-*).",
    )
    prefix: str = Field(
        "", pattern=PREFIX,
        description="Prefix of every object name, so that two instances of a component share "
                    "a namespace: a component used on its own sets it from its name "
                    "(Redis(\"sessions\", ...) -> sessions-redis). Not a stack-file key: a "
                    "stack owns its namespace, and its runbooks name the unprefixed objects.")
    targets: dict[str, str] | None = Field(
        None, description="What a Monitoring on its own scrapes: component key -> the prefix "
                          "of the instance it watches (MonitoringArgs.watch); unset: the "
                          "stack's own components. Not a stack-file key.")
    target: Literal["kubernetes", "docker"] = Field(
        "kubernetes", description="Deploy to a Kubernetes cluster, or a single Docker host."
    )
    kube_context: str | None = Field(None, pattern=CONTEXT,
                                     description="kubeconfig context; current if unset.")
    retain_data: bool = Field(
        True,
        description="Keep the Namespace, and with it the PostgreSQL and Redis volumes, when "
                    "`pulumi destroy` runs or the namespace changes (Pulumi forgets it instead "
                    "of deleting it); false lets destroy delete the data.")
    credentials: Literal["generated", "existing"] = Field(
        "generated",
        description="generated: phasestack makes every password into the stack's Secrets "
                    "(render: secrets.yaml; Pulumi: random or `pulumi config set --secret`). "
                    "existing: the team provides those Secrets, same names and keys (SOPS, "
                    "External Secrets, Vault; `phasestack validate` lists them): nothing "
                    "secret is rendered or registered, so Argo CD or Flux applies the render "
                    "as is.")
    review: str | None = Field(None, pattern=REVIEW_NAME,
                               description="Scaling review this stack follows, if any.")
    load: LoadTarget = Field(default_factory=LoadTarget, description="Load the stack must carry.")
    app: AppProfile = Field(default_factory=AppProfile, description="How the API uses its tier.")
    api: Api = Field(default_factory=Api, description="API Deployment and HPA.")
    nginx: Nginx = Field(default_factory=Nginx, description="nginx load balancer.")
    redis: Redis = Field(default_factory=Redis, description="Redis standalone or Cluster.")
    postgres: Postgres = Field(default_factory=Postgres, description="PostgreSQL and replicas.")
    pgbouncer: PgBouncer = Field(default_factory=PgBouncer, description="PgBouncer pooler.")
    monitoring: Monitoring = Field(default_factory=Monitoring, description="Prometheus, Grafana.")

    @classmethod
    def for_phase(cls, phase: str, **values) -> "Stack":
        """A phase's shape in code, exactly as a stack file with `phase: <phase>` and these
        values gets it (model defaults <- preset <- values; nested values are dicts or
        models)."""
        return cls(phase=phase, **values)

    @field_validator("namespace")
    @classmethod
    def _own_namespace(cls, value: str) -> str:
        if value in RESERVED_NAMESPACES:
            raise ValueError(f"{value!r} is a system namespace; a stack needs one of its own")
        return value

    def has(self, component: str) -> bool:
        """Whether the stack has the catalog component `component` on (its section's `enabled`:
        Redis, nginx and PgBouncer may be off; the API, PostgreSQL and monitoring are always
        there), in the cluster or managed."""
        return getattr(getattr(self, component), "enabled", True)

    def runs(self, component: str) -> bool:
        """Whether the stack runs it in the cluster: on, and not a managed service
        (postgres.external, redis.external)."""
        return self.has(component) and getattr(getattr(self, component), "external",
                                                None) is None

    def scrapes(self, component: str) -> bool:
        """Whether its Prometheus scrapes the component: every one a stack runs; for a
        Monitoring on its own, the instances it watches."""
        return self.targets is None or component in self.targets

    def prefix_of(self, component: str) -> str:
        """The name prefix of the component's objects: the stack's own, or the prefix of the
        instance a Monitoring on its own watches."""
        return self.prefix if self.targets is None else self.targets.get(component, self.prefix)

    @property
    def pgbouncer_primary_pools(self) -> int:
        """PgBouncer pools that land on the primary: the read-only database goes there too
        until the stack has read replicas (or a managed reader endpoint)."""
        pg = self.postgres
        return 1 if pg.read_replicas or (pg.external and pg.external.read_host) else 2

    @property
    def pgbouncer_server_connections(self) -> int:
        """What the PgBouncer pods may open to the primary: pods x (pool + reserve) x pools."""
        pgb = self.pgbouncer
        return pgb.replicas * (pgb.default_pool_size + pgb.reserve_pool_size) * \
            self.pgbouncer_primary_pools

    @property
    def primary_fixed_connections(self) -> int:
        """Connections the primary keeps for others: replication, monitoring, superusers."""
        pg = self.postgres
        return pg.read_replicas + pg.monitoring_connections + pg.superuser_reserved_connections

    @property
    def request_timeout_s(self) -> int:
        """How long nginx waits for the API (proxy_read_timeout): a query may run up to
        statement_timeout (review 003), plus 5 s for the app to answer."""
        return self.postgres.statement_timeout_s + 5

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data):
        """The phase preset under what is given, as a stack file gets it: Stack(phase="phase2")
        is the phase2 shape, not the defaults (issue 13). Given values win; merging a preset
        under a whole dumped stack changes nothing."""
        if isinstance(data, dict) and data.get("phase", "mvp") in PRESETS:
            return deep_merge(preset(data.get("phase", "mvp")), data)
        return data

    @model_validator(mode="after")
    def _cross(self) -> "Stack":
        pg, pgb = self.postgres, self.pgbouncer
        if pgb.enabled:
            # the planner's postgres_budget, as a hard rule: one formula (issue 12: validate
            # allowed 201 of 200 that plan then failed)
            pools = self.pgbouncer_primary_pools
            server = self.pgbouncer_server_connections
            used = server + self.primary_fixed_connections
            if used > pg.max_connections:
                raise ValueError(
                    f"pgbouncer: server connections {pgb.replicas} x ({pgb.default_pool_size} + "
                    f"{pgb.reserve_pool_size}) x {pools} pool(s) on the primary = {server}, "
                    f"+ replication {pg.read_replicas} + monitoring "
                    f"{pg.monitoring_connections} + superuser_reserved "
                    f"{pg.superuser_reserved_connections} = {used} exceed postgres "
                    f"max_connections {pg.max_connections}"
                )
            read_timeout = self.request_timeout_s
            if pgb.query_wait_timeout_s >= read_timeout:
                raise ValueError(
                    f"pgbouncer: query_wait_timeout_s {pgb.query_wait_timeout_s} must be below "
                    f"nginx's read timeout (postgres statement_timeout_s "
                    f"{pg.statement_timeout_s} + 5 = {read_timeout} s), or clients get a 504 "
                    "before PgBouncer's error")
        for key in ("api", "nginx"):
            spec = getattr(self, key)
            # a value other than the default (so a dumped and re-validated stack still loads)
            if spec.hpa.enabled and spec.replicas != type(spec).model_fields["replicas"].default:
                # issue 12: the stack said 2, the render said HPA 3-6
                preset = PRESETS[self.phase].get(key, {}).get("hpa", {}).get("enabled")
                why = f" (the {self.phase} preset turns it on)" if preset else ""
                raise ValueError(
                    f"{key}.replicas: {spec.replicas} has no effect while {key}.hpa.enabled is "
                    f"true{why}: the HPA sets the pod count; set {key}.hpa.min_replicas and "
                    f"max_replicas instead, or {key}.hpa.enabled: false")
        for w in self.api.workers:
            if w.hpa.enabled and w.replicas != type(w).model_fields["replicas"].default:
                raise ValueError(
                    f"api.workers[{w.name}].replicas: {w.replicas} has no effect while its "
                    "hpa.enabled is true: the HPA sets the pod count; set hpa.min_replicas "
                    "and max_replicas instead")
        if self.target == "docker" and self.beyond_one_host:
            # issue 13: validate passed what render and pulumi up then refused
            raise ValueError(f"target: docker renders the MVP shape; this stack also has: "
                             f"{', '.join(self.beyond_one_host)} (use target: kubernetes)")
        return self

    @property
    def beyond_one_host(self) -> list[str]:
        """What the single-host (docker) target cannot run: the one rule validate, render
        --format compose and the Pulumi docker program share."""
        return [what for what, on in (
            ("pgbouncer", self.pgbouncer.enabled), ("read replicas", self.postgres.read_replicas),
            ("grafana", self.monitoring.grafana), ("workers", self.api.workers),
            ("redis cluster", self.redis.mode == "cluster"), ("api hpa", self.api.hpa.enabled),
            ("nginx hpa", self.nginx.hpa.enabled), ("nginx.ingress", self.nginx.ingress.enabled),
            # Kubernetes objects and pod fields a compose service has no place for
            ("api.migration (a Kubernetes Job)", self.api.migration.enabled),
            # the compose file is the MVP's whole shape: nginx in front, Redis beside
            ("redis.enabled: false", not self.redis.enabled),
            ("postgres.external", self.postgres.external is not None),
            ("postgres.engine: cloudnativepg (an operator)",
             self.postgres.engine == "cloudnativepg"),
            ("postgres.backup (a sidecar)", self.postgres.backup is not None),
            ("redis.external", self.redis.external is not None),
            ("redis.backup (a Kubernetes CronJob)", self.redis.backup is not None),
            ("credentials: existing (compose gets its passwords from the render)",
             self.credentials == "existing"),
            ("nginx.enabled: false", not self.nginx.enabled),
            ("monitoring.alerting (its receivers' credentials are Kubernetes Secrets)",
             self.monitoring.alerting.enabled),
            ("monitoring.node_metrics (the kubelets')", self.monitoring.node_metrics),
            ("api.command (use api.args: compose replaces the image's CMD)",
             bool(self.api.command)),
            ("api.secret_env / env_from (Kubernetes Secrets)",
             bool(self.api.secret_env or self.api.env_from)),
            ("api scheduling and annotations", any(getattr(self.api, f) for f in (
                "image_pull_secrets", "node_selector", "tolerations", "affinity",
                "pod_annotations", "service_account_annotations")))) if on]

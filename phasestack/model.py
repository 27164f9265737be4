"""Typed topology model: the one place where defaults live (DESIGN.md layer 1).

Every model is frozen, refuses unknown keys, and documents each field. Phase presets
(phasestack.phases) and stack files only override these defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PHASES = ("mvp", "phase1", "phase2", "phase3")


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoadTarget(Spec):
    concurrent_users: int = Field(10_000, ge=1, description="Users active at the same time.")
    peak_rps: float | None = Field(
        None, gt=0, description="Peak requests per second; derived from requests_per_day if unset."
    )
    requests_per_day: int = Field(
        7_000_000, ge=1,
        description="Daily requests (review 000: 7M/day for 10K users); the peak comes from it "
                    "unless peak_rps is set.",
    )
    # review 000, Target: ~81 rps average and ~250 peak, a factor of ~3.1
    peak_factor: float = Field(3.0, ge=1, description="Peak rps over average rps.")
    latency_target_ms: float = Field(
        # review 002, Required Metrics: auth latency P99 warning above 300 ms
        300, gt=0, description="Target request latency in milliseconds (P99)."
    )

    @property
    def average_rps(self) -> float:
        # a stack that states only its peak gets its average from the peak factor, not from
        # the default daily volume
        if self.peak_rps is not None and "requests_per_day" not in self.model_fields_set:
            return self.peak_rps / self.peak_factor
        return self.requests_per_day / 86_400

    @property
    def effective_peak_rps(self) -> float:
        return self.peak_rps if self.peak_rps is not None else self.average_rps * self.peak_factor


class AppProfile(Spec):
    pod_rps: float = Field(
        100, gt=0, description="Requests per second one API pod serves at full CPU (measure yours)."
    )
    db_queries_per_request: float = Field(
        # review 002, Operations Per Authentication: 1 SELECT + 1 audit INSERT
        2, ge=0, description="PostgreSQL queries per request."
    )
    query_ms: float = Field(10, gt=0, description="Mean PostgreSQL query time in milliseconds.")
    redis_ops_per_request: float = Field(
        # review 002, Redis Operations Breakdown: 3-5 round-trips per request
        5, ge=0, description="Redis operations per request."
    )
    # review 002, Memory Requirements: 100k sessions x ~2KB
    session_bytes: int = Field(2048, ge=0, description="Bytes per session kept in Redis.")
    # review 002, Memory Requirements: ~100k rate-limit keys need 100-200MB
    rate_limit_key_bytes: int = Field(1024, ge=0, description="Bytes per rate-limit key in Redis.")
    app_pool_per_pod: int = Field(
        # review 002, Recommendation 3: pool max 50 for 10k; 20 was the original
        20, ge=1, description="Database connections each API pod's client pool may open."
    )


class Resources(Spec):
    cpu_request: str = Field("250m", description="CPU request per pod.")
    cpu_limit: str = Field("1", description="CPU limit per pod.")
    memory_request: str = Field("256Mi", description="Memory request per pod.")
    memory_limit: str = Field("512Mi", description="Memory limit per pod.")


class Hpa(Spec):
    enabled: bool = Field(False, description="Create a HorizontalPodAutoscaler.")
    min_replicas: int = Field(2, ge=1, description="HPA lower bound.")
    max_replicas: int = Field(6, ge=1, description="HPA upper bound.")
    # review 001, Kubernetes autoscaling: HPA at 70% CPU
    cpu_target: int = Field(70, ge=10, le=100, description="Target average CPU utilisation, %.")

    @model_validator(mode="after")
    def _bounds(self) -> Hpa:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must be <= max_replicas ({self.max_replicas})"
            )
        return self


class Worker(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="Worker Deployment name.")
    replicas: int = Field(1, ge=1, description="Worker pods.")
    command: list[str] = Field(default_factory=list, description="Container command override.")
    resources: Resources = Field(default_factory=Resources, description="Worker pod resources.")


class Api(Spec):
    image: str = Field(
        "ghcr.io/stefanprodan/podinfo:6.7.1",
        description="API image; the default demo app serves /healthz, /readyz and /metrics.",
    )
    port: int = Field(9898, ge=1, le=65535, description="Container port the API listens on.")
    replicas: int = Field(2, ge=1, description="Replicas when the HPA is off (and the start).")
    hpa: Hpa = Field(default_factory=Hpa, description="Autoscaling of the API Deployment.")
    resources: Resources = Field(default_factory=Resources, description="API pod resources.")
    health_path: str = Field("/healthz", description="Liveness probe path.")
    ready_path: str = Field("/readyz", description="Readiness probe path.")
    workers: list[Worker] = Field(default_factory=list, description="Queue consumer Deployments.")

    @property
    def max_pods(self) -> int:
        return self.hpa.max_replicas if self.hpa.enabled else self.replicas

    @property
    def min_pods(self) -> int:
        return self.hpa.min_replicas if self.hpa.enabled else self.replicas


class Nginx(Spec):
    image: str = Field("nginx:1.27.3-alpine", description="nginx image (1.27.3+ for `resolve`).")
    replicas: int = Field(1, ge=1, description="nginx pods (HPA lower bound when the HPA is on).")
    hpa: Hpa = Field(
        default_factory=lambda: Hpa(min_replicas=3, max_replicas=6),
        description="Autoscaling of the nginx Deployment.",
    )
    # review 000, Inadequate Rate Limiting: 300 req/min general, 10 req/min auth
    rate_limit_per_minute: int = Field(300, ge=1, description="General limit per client IP.")
    auth_rate_limit_per_minute: int = Field(10, ge=1, description="Auth limit per client IP.")
    auth_path: str = Field("/auth/", description="Path prefix the auth limit applies to.")
    burst: int = Field(20, ge=0, description="limit_req burst for the general zone.")
    # review 003, request size limits
    client_max_body_size: str = Field(
        "1m", pattern=r"^[0-9]+[kmg]?$", description="Largest request body."
    )
    rps_per_replica: float = Field(
        5000, gt=0, description="Requests per second one nginx pod proxies (planner budget)."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="100m", memory_request="64Mi",
                                          memory_limit="128Mi"),
        description="nginx pod resources.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        description="CIDRs whose X-Forwarded-For is trusted for the client IP.",
    )

    @property
    def max_pods(self) -> int:
        return self.hpa.max_replicas if self.hpa.enabled else self.replicas


class Redis(Spec):
    mode: Literal["standalone", "cluster"] = Field("standalone", description="Topology.")
    image: str = Field("redis:7.0-alpine", description="Redis image.")
    masters: int = Field(1, ge=1, description="Masters (cluster mode needs at least 3).")
    replicas_per_master: int = Field(0, ge=0, description="Replicas of each master.")
    # review 002, Recommendation 4: 256MB -> 2GB
    maxmemory_mb: int = Field(2048, ge=16, description="maxmemory per Redis server, MiB.")
    # Review 002 uses allkeys-lru but warns it may evict live sessions: refuse writes instead.
    maxmemory_policy: Literal[
        "noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "allkeys-lru", "allkeys-lfu"
    ] = Field("noeviction", description="Eviction policy; noeviction never drops a session.")
    appendonly: bool = Field(True, description="AOF persistence.")
    storage_gb: int = Field(5, ge=1, description="PersistentVolumeClaim size per pod, GiB.")
    ops_per_master: float = Field(
        50_000, gt=0, description="Operations per second one master serves (planner budget)."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="250m", memory_request="2560Mi",
                                          memory_limit="2560Mi"),
        description="Redis pod resources (memory above maxmemory for overhead).",
    )

    @model_validator(mode="after")
    def _shape(self) -> Redis:
        if self.mode == "cluster" and self.masters < 3:
            raise ValueError(f"Redis Cluster needs at least 3 masters, got {self.masters}")
        if self.mode == "standalone" and self.masters != 1:
            raise ValueError(f"standalone Redis has exactly 1 master, got {self.masters}")
        return self

    @property
    def pods(self) -> int:
        return self.masters * (1 + self.replicas_per_master)


class Postgres(Spec):
    image: str = Field("postgres:15-alpine", description="PostgreSQL image.")
    max_connections: int = Field(200, ge=10, description="PostgreSQL max_connections.")
    superuser_reserved_connections: int = Field(3, ge=0, description="Kept for superusers.")
    monitoring_connections: int = Field(2, ge=0, description="Connections the exporter holds.")
    read_replicas: int = Field(0, ge=0, le=10, description="Streaming read replicas.")
    shared_buffers_mb: int = Field(256, ge=16, description="shared_buffers, MiB.")
    storage_gb: int = Field(20, ge=1, description="PersistentVolumeClaim size, GiB.")
    # review 003, database timeouts for the app role
    statement_timeout_s: int = Field(30, ge=1, description="statement_timeout of the app role.")
    lock_timeout_s: int = Field(5, ge=1, description="lock_timeout of the app role.")
    database: str = Field("app", pattern=r"^[a-z_][a-z0-9_]*$", description="Database name.")
    app_user: str = Field("app", pattern=r"^[a-z_][a-z0-9_]*$", description="Application role.")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="500m", cpu_limit="2",
                                          memory_request="1Gi", memory_limit="2Gi"),
        description="PostgreSQL pod resources.",
    )

    @model_validator(mode="after")
    def _reserve(self) -> Postgres:
        if self.superuser_reserved_connections >= self.max_connections:
            raise ValueError(
                f"superuser_reserved_connections ({self.superuser_reserved_connections}) must be "
                f"< max_connections ({self.max_connections})"
            )
        return self


class PgBouncer(Spec):
    enabled: bool = Field(False, description="Put PgBouncer between the API and PostgreSQL.")
    image: str = Field("bitnami/pgbouncer:1.23.1", description="PgBouncer image.")
    replicas: int = Field(2, ge=1, description="PgBouncer pods.")
    # review 002, PgBouncer compose block: transaction mode, 200 / 25 / 5
    pool_mode: Literal["transaction", "session", "statement"] = Field(
        "transaction", description="Pooling mode."
    )
    max_client_conn: int = Field(200, ge=1, description="Client connections per pod.")
    default_pool_size: int = Field(25, ge=1, description="Server connections per pool per pod.")
    min_pool_size: int = Field(5, ge=0, description="Server connections kept open per pool.")
    reserve_pool_size: int = Field(5, ge=0, description="Extra server connections under load.")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="100m", memory_request="64Mi",
                                          memory_limit="128Mi"),
        description="PgBouncer pod resources.",
    )

    @model_validator(mode="after")
    def _pools(self) -> PgBouncer:
        if self.min_pool_size > self.default_pool_size:
            raise ValueError(
                f"min_pool_size ({self.min_pool_size}) must be <= default_pool_size "
                f"({self.default_pool_size})"
            )
        return self


class Monitoring(Spec):
    prometheus: bool = Field(True, description="Deploy Prometheus.")
    grafana: bool = Field(False, description="Deploy Grafana with provisioned dashboards.")
    alerts: bool = Field(False, description="Load the alert rules into Prometheus.")
    retention: str = Field("15d", pattern=r"^[0-9]+[hdw]$", description="Prometheus retention.")
    scrape_interval: str = Field("15s", pattern=r"^[0-9]+[sm]$", description="Scrape interval.")
    storage_gb: int = Field(10, ge=1, description="Prometheus volume size, GiB.")

    @model_validator(mode="after")
    def _needs_prometheus(self) -> Monitoring:
        if (self.grafana or self.alerts) and not self.prometheus:
            raise ValueError("grafana and alerts need prometheus: true")
        return self


class Stack(Spec):
    """A whole topology: what one stack file describes after presets are applied."""

    phase: Literal["mvp", "phase1", "phase2", "phase3"] = Field(
        "mvp", description="Phase preset the stack starts from."
    )
    namespace: str = Field(
        "phasestack", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Kubernetes namespace for every resource of the stack.",
    )
    target: Literal["kubernetes", "docker"] = Field(
        "kubernetes", description="Deploy to a Kubernetes cluster, or a single Docker host."
    )
    kube_context: str | None = Field(None, description="kubeconfig context; current if unset.")
    review: str | None = Field(None, description="Scaling review this stack follows, if any.")
    load: LoadTarget = Field(default_factory=LoadTarget, description="Load the stack must carry.")
    app: AppProfile = Field(default_factory=AppProfile, description="How the API uses its tier.")
    api: Api = Field(default_factory=Api, description="API Deployment and HPA.")
    nginx: Nginx = Field(default_factory=Nginx, description="nginx load balancer.")
    redis: Redis = Field(default_factory=Redis, description="Redis standalone or Cluster.")
    postgres: Postgres = Field(default_factory=Postgres, description="PostgreSQL and replicas.")
    pgbouncer: PgBouncer = Field(default_factory=PgBouncer, description="PgBouncer pooler.")
    monitoring: Monitoring = Field(default_factory=Monitoring, description="Prometheus, Grafana.")

    @model_validator(mode="after")
    def _cross(self) -> Stack:
        pg, pgb = self.postgres, self.pgbouncer
        if pgb.enabled:
            server = pgb.replicas * (pgb.default_pool_size + pgb.reserve_pool_size)
            usable = pg.max_connections - pg.superuser_reserved_connections
            if server > usable:
                raise ValueError(
                    f"pgbouncer: server connections {pgb.replicas} x ({pgb.default_pool_size} + "
                    f"{pgb.reserve_pool_size}) = {server} exceed postgres max_connections "
                    f"{pg.max_connections} - {pg.superuser_reserved_connections} reserved = "
                    f"{usable}"
                )
        if self.target == "docker" and (self.redis.mode == "cluster" or self.api.hpa.enabled):
            raise ValueError("target: docker supports standalone Redis and no HPA (the MVP shape)")
        return self

"""Redis: standalone or Cluster, in the cluster or managed (redis.external)."""


import re
from typing import Literal

from pydantic import Field, model_validator

from phasestack.model.backup import RedisBackup
from phasestack.model.base import IMAGE, Resources, Spec, memory_bytes
from phasestack.model.external import ExternalRedis

# maxmemory must leave the pod room for AOF rewrites, buffers and fragmentation
REDIS_MEMORY_SHARE = 0.8
# cluster pods announce `<pod>/<node>` (cluster-announce-human-nodename): Redis 7.2+, Valkey
REDIS_BEFORE_7_2 = re.compile(r"(^|/)redis:([0-6]|7\.[01])(\D|$)")


class Redis(Spec):
    enabled: bool = Field(
        True, description="Run Redis. false: a stage that needs none yet (review 000, "
                          "Deployment Checklist: \"optional but recommended\"): no Redis "
                          "objects, REDIS_* variables, scrape job, alerts or planner checks.")
    external: ExternalRedis | None = Field(
        None, description="A managed Redis to use instead of running one (no StatefulSet, "
                          "exporter or generated password; mode, masters and maxmemory_mb "
                          "describe it, for the planner; image, storage and resources are "
                          "unused).")
    mode: Literal["standalone", "cluster"] = Field("standalone", description="Topology.")
    # Valkey (BSD), the maintained Redis-compatible server the tests can start (Debian's source
    # package, toolchain/valkey.sh); its image keeps the redis-server/redis-cli names
    image: str = Field("valkey/valkey:9.1.2-alpine", pattern=IMAGE,
                       description="Redis-compatible server image (its redis-server and "
                                   "redis-cli commands are used; UID 999).")
    exporter_image: str = Field("oliver006/redis_exporter:v1.62.0", pattern=IMAGE,
                                description="redis_exporter sidecar image.")
    masters: int = Field(1, ge=1, le=100, description="Masters (cluster mode needs at least 3).")
    replicas_per_master: int = Field(0, ge=0, le=5, description="Replicas of each master.")
    # review 002 (002_f99052a1f9a0162e.txt), Recommendation 4: 256MB -> 2GB
    maxmemory_mb: int = Field(2048, ge=16, le=2**20, description="maxmemory per server, MiB.")
    # Review 002 uses allkeys-lru but warns it may evict live sessions: refuse writes instead.
    maxmemory_policy: Literal[
        "noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "allkeys-lru", "allkeys-lfu"
    ] = Field("noeviction", description="Eviction policy; noeviction never drops a session.")
    appendonly: bool = Field(True, description="AOF persistence.")
    storage_gb: int = Field(5, ge=1, le=65_536, description="Volume size per pod, GiB.")
    # An assumption under half of what was measured with the rendered config on one core:
    # 110,193 ops/s standalone, 94,832 per Cluster master (benchmarks/capacity, 2 x Intel Xeon,
    # 2026-12-04); the pod requests 250m CPU on a shared node. `plan --calibration` takes yours.
    ops_per_master: float = Field(
        50_000, gt=0, le=10**7,
        description="Operations per second one master serves (planner). An assumption, below "
                    "the 110,193 (standalone) and 94,832 (Cluster master) ops/s measured on "
                    "one core of 2 x Intel Xeon (README, Measured capacities).")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu_request="250m", memory_request="2560Mi",
                                          memory_limit="2560Mi"),
        description="Redis pod resources (memory above maxmemory for overhead).",
    )
    backup: RedisBackup | None = Field(
        None, description="Scheduled RDB snapshots of the standalone server or of every "
                          "Cluster master, copied to S3-compatible storage (a CronJob); "
                          "`phasestack restore` prints the way back.")

    @model_validator(mode="after")
    def _shape(self) -> "Redis":
        if self.external and not self.enabled:
            raise ValueError("external: a managed Redis needs enabled: true (false is no Redis "
                             "at all)")
        if self.external and self.backup:
            raise ValueError("backup: a managed Redis's snapshots are the provider's")
        if self.mode == "cluster" and self.masters < 3:
            raise ValueError(f"Redis Cluster needs at least 3 masters, got {self.masters}")
        if self.mode == "cluster" and self.replicas_per_master < 1:
            raise ValueError("Redis Cluster needs replicas_per_master >= 1: without a replica, "
                             "losing one master takes its slots and the whole cluster down")
        if self.mode == "cluster" and not self.external and REDIS_BEFORE_7_2.search(self.image):
            raise ValueError(
                f"image {self.image}: Redis Cluster pods announce their Kubernetes node "
                "(cluster-announce-human-nodename, which keeps a replica off its master's node); "
                "it needs Redis 7.2 or newer, or Valkey")
        if self.mode == "standalone" and self.masters != 1:
            raise ValueError(f"standalone Redis has exactly 1 master, got {self.masters}")
        if self.mode == "standalone" and self.replicas_per_master:
            # issue 12: the StatefulSet would run 1 + n pods with no replicaof behind one
            # Service, so sessions and jobs split between unsynchronised masters
            raise ValueError(
                f"standalone Redis runs one server: replicas_per_master "
                f"{self.replicas_per_master} would start {self.pods} unsynchronised masters "
                "behind one Service; use mode: cluster for replicas (with failover), or "
                "replicas_per_master: 0")
        limit = memory_bytes(self.resources.memory_limit)
        # a managed Redis runs no pod here: its maxmemory is the provider's node size
        if not self.external and self.maxmemory_mb * 2**20 > REDIS_MEMORY_SHARE * limit:
            raise ValueError(
                f"maxmemory_mb ({self.maxmemory_mb}) must be <= {REDIS_MEMORY_SHARE:.0%} of "
                f"resources.memory_limit ({self.resources.memory_limit} = "
                f"{limit / 2**20:,.0f} MiB)")
        return self

    @property
    def pods(self) -> int:
        return self.masters * (1 + self.replicas_per_master)

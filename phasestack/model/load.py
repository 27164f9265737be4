"""What a stack must carry (load target) and how the API uses its data tier (app profile)."""


from pydantic import Field

from phasestack.model.base import MANY, Spec


class LoadTarget(Spec):
    concurrent_users: int = Field(10_000, ge=1, le=10**9,
                                  description="Users active at the same time.")
    peak_rps: float | None = Field(
        None, ge=0.01, le=10**7,
        description="Peak requests per second; derived from requests_per_day if unset.",
    )
    requests_per_day: int = Field(
        7_000_000, ge=1, le=10**12,
        description="Daily requests (review 000: 7M/day for 10K users); the peak comes from it "
                    "unless peak_rps is set.",
    )
    # review 000 (000_f42598e3354b7376.txt), Target: ~81 rps average and ~250 peak, ~3.1x
    peak_factor: float = Field(3.0, ge=1, le=100, description="Peak rps over average rps.")
    latency_target_ms: float = Field(
        # review 002 (002_f99052a1f9a0162e.txt), 12. Required Metrics: P99 warning above 300 ms
        300, gt=0, le=600_000, description="Target request latency in milliseconds (P99)."
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
        100, gt=0, le=MANY,
        description="Requests per second one API pod serves at full CPU (measure yours).",
    )
    db_queries_per_request: float = Field(
        # review 002, 1. Operations Per Authentication: 1 SELECT + 1 audit INSERT
        2, ge=0, le=1000, description="PostgreSQL queries per request."
    )
    query_ms: float = Field(10, gt=0, le=600_000,
                            description="Mean PostgreSQL query time in milliseconds.")
    # review 002, 12. Required Metrics: auth latency P99 warning > 300 ms, critical > 500 ms
    p99_ms: float = Field(
        300, ge=1, le=600_000,
        description="The API's P99 latency objective in milliseconds: ApiLatencyP99Warning "
                    "fires above it, ApiLatencyP99Critical above 5/3 of it (review 002's 300 "
                    "and 500 ms).")
    read_fraction: float = Field(
        0, ge=0, le=1,
        description="Share of the queries that are reads the app sends to DATABASE_READ_URL "
                    "(read replicas when the stack has them). 0: everything on the primary.")
    cache_hit_rate: float = Field(
        0, ge=0, le=1,
        description="Share of those reads answered from Redis instead of PostgreSQL (each hit "
                    "is one more Redis operation).")
    redis_ops_per_request: float = Field(
        # review 002, 3. Redis Operations Breakdown: 3-5 round-trips per request
        5, ge=0, le=1000, description="Redis operations per request."
    )
    # review 002, 2. Memory Requirements: 100k sessions x ~2KB
    session_bytes: int = Field(2048, ge=0, le=10**8, description="Bytes per session in Redis.")
    # review 002, 2. Memory Requirements: ~100k rate-limit keys need 100-200MB
    rate_limit_key_bytes: int = Field(1024, ge=0, le=10**8,
                                      description="Bytes per rate-limit key in Redis.")
    app_pool_per_pod: int = Field(
        # review 002, Recommendation 3: pool max 50 for 10k; 20 was the original
        20, ge=1, le=10_000, description="Database connections each API pod's pool may open."
    )

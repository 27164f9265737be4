"""Phase presets: data layered on the model defaults (DESIGN.md phase matrix).

Each number a review commits to cites the review file and section. Where the matrix needed a
derived number (client connections, HPA ceilings) the comment says how it was derived.
"""

from __future__ import annotations

# The review files, for modules that quote them in generated configs.
R000 = "000_f42598e3354b7376.txt"
R001 = "001_9fbd6927d93be06f.txt"
R002 = "002_f99052a1f9a0162e.txt"
R003 = "003_dcc3c24c5985e7cb.txt"
R004 = "004_d605809f7a985140.txt"

PRESETS: dict[str, dict] = {
    "mvp": {
        # review 000, Estimated Capacity: one instance after the PostgreSQL move ~3,000 users;
        # requests scaled from review 000's 7M/day for 10K users
        "load": {"concurrent_users": 3_000, "requests_per_day": 2_100_000},
        # review 002, Recommended MVP Launch Configuration: replicas 2 "Minimum 2 for HA"
        "api": {"replicas": 2, "hpa": {"enabled": False}},
        # review 002, Recommendation 3: pool 50 per API process, direct to PostgreSQL
        "app": {"app_pool_per_pod": 50},
        "nginx": {"replicas": 1, "hpa": {"enabled": False}},
        # review 002, Recommendation 4: single Redis, maxmemory 2gb
        "redis": {"mode": "standalone", "masters": 1, "replicas_per_master": 0,
                  "maxmemory_mb": 2048},
        "postgres": {"read_replicas": 0, "max_connections": 200},
        "pgbouncer": {"enabled": False},
        # review 001, Phase 1: single compose deployment + Prometheus; its rules too (issue
        # 15: a first deployment is when nobody watches dashboards yet)
        "monitoring": {"prometheus": True, "grafana": False, "alerts": True},
    },
    "phase1": {
        # review 000, Target: 10,000+ concurrent users, 7M req/day, ~250 peak rps
        "load": {"concurrent_users": 10_000, "requests_per_day": 7_000_000, "peak_rps": 250},
        # review 001, 7. Auto-scaling Configuration: TargetValue 70.0 (CPU); 2 pods minimum for
        # HA (review 002, Recommended MVP Launch Configuration)
        "api": {"hpa": {"enabled": True, "min_replicas": 2, "max_replicas": 6, "cpu_target": 70}},
        "nginx": {"replicas": 2, "hpa": {"enabled": False}},
        # review 002, Redis Scaling Roadmap, Phase 1: single node, 2GB
        "redis": {"mode": "standalone", "masters": 1, "replicas_per_master": 0,
                  "maxmemory_mb": 2048},
        "postgres": {"read_replicas": 0, "max_connections": 200},
        # review 002, PgBouncer compose block: transaction, max_client_conn 200,
        # default_pool_size 25, min_pool_size 5
        "pgbouncer": {"enabled": True, "replicas": 2, "pool_mode": "transaction",
                      "max_client_conn": 200, "default_pool_size": 25, "min_pool_size": 5,
                      "reserve_pool_size": 5},
        "monitoring": {"prometheus": True, "grafana": True, "alerts": True},
    },
    "phase2": {
        # review 002, Redis Scaling Roadmap: Phase 2 = 50k concurrent; its burst model
        # (100k users in 60 s = 1,666 rps) scaled to 50k gives 833 rps
        "load": {"concurrent_users": 50_000, "peak_rps": 833},
        # review 002, 11. Scaling Roadmap, Phase 2: "API auto-scaling (3+ instances)" (its
        # Scalability Framework table says 5+; the roadmap's 3 is the floor); ceiling 20 from
        # review 001's Kubernetes Migration (replicas: 20), so 20 x 100 rps x 70% = 1,400 rps
        # covers 833 with room
        "api": {"hpa": {"enabled": True, "min_replicas": 3, "max_replicas": 20, "cpu_target": 70}},
        "nginx": {"replicas": 2, "hpa": {"enabled": False}},
        # review 002, Redis Scaling Roadmap, Phase 2: Redis Cluster (3 masters)
        "redis": {"mode": "cluster", "masters": 3, "replicas_per_master": 1,
                  "maxmemory_mb": 2048},
        # review 002, PostgreSQL Scaling Roadmap, Phase 2: PgBouncer + 1 read replica; on
        # CloudNativePG from here (issue 16): review 004's "Read Replicas ... Automatic
        # failover", the replica a standby it promotes; the Cluster copies phase1's primary
        "postgres": {"read_replicas": 1, "max_connections": 200, "engine": "cloudnativepg",
                     "cloudnativepg": {"import_from_statefulset": True}},
        # review 002, Phase 2 roadmap: "Add PgBouncer (100 connections)" = 2 pods x pool 50;
        # clients: 20 API pods x 20 = 400 <= 2 x 400
        "pgbouncer": {"enabled": True, "replicas": 2, "pool_mode": "transaction",
                      "max_client_conn": 400, "default_pool_size": 50, "min_pool_size": 5,
                      "reserve_pool_size": 5},
        # shared nodes under production load: CPU throttling and volume fill are watched
        "monitoring": {"prometheus": True, "grafana": True, "alerts": True,
                       "node_metrics": True},
    },
    "phase3": {
        # review 002, Target Load Modeling: 100k concurrent in a 60 s burst = 1,666 rps
        "load": {"concurrent_users": 100_000, "peak_rps": 1_666},
        # review 002, Summary: 10+ API instances auto-scaled; 40 x 70 = 2,800 rps ceiling
        "api": {"hpa": {"enabled": True, "min_replicas": 10, "max_replicas": 40,
                        "cpu_target": 70}},
        # DESIGN.md matrix: 3 nginx + HPA
        "nginx": {"hpa": {"enabled": True, "min_replicas": 3, "max_replicas": 6}},
        # review 002, Redis Scaling Roadmap, Phase 3: Redis Cluster (6+ masters) + replicas
        "redis": {"mode": "cluster", "masters": 6, "replicas_per_master": 1,
                  "maxmemory_mb": 2048},
        # review 002, PostgreSQL Scaling Roadmap, Phase 3: PgBouncer + 3 read replicas, as
        # CloudNativePG standbys (phase2's engine)
        "postgres": {"read_replicas": 3, "max_connections": 200, "engine": "cloudnativepg",
                     "cloudnativepg": {"import_from_statefulset": True}},
        # scaled out with a per-pod budget: 3 pods x (25 + 5) = 90 server connections;
        # clients: 40 API pods x 20 = 800 <= 3 x 400
        "pgbouncer": {"enabled": True, "replicas": 3, "pool_mode": "transaction",
                      "max_client_conn": 400, "default_pool_size": 25, "min_pool_size": 5,
                      "reserve_pool_size": 5},
        # shared nodes under production load: CPU throttling and volume fill are watched
        "monitoring": {"prometheus": True, "grafana": True, "alerts": True,
                       "node_metrics": True},
    },
}


def preset(phase: str) -> dict:
    """A deep copy of a phase preset, safe to merge into."""
    import copy

    return copy.deepcopy(PRESETS[phase])


def deep_merge(base: dict, override: dict) -> dict:
    """`override` over `base`, mappings merged key by key (a stack file over its preset)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out

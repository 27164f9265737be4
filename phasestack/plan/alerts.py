"""Which alert guards which limit (issue 15): each alert rule the stack renders, the value it
fires at in the stack's own units, and the setting that value comes from, so `plan` shows the
alerts beside the capacity checks. Pure; reads the rendered rules, so it lists exactly what
Prometheus loads."""

from __future__ import annotations

import yaml

from phasestack.model import Stack
from phasestack.plan.capacity import api_capacity_rps
from phasestack.safe_yaml import FAST


def num(x: float) -> str:
    """1229.0 -> "1,229", 0.5 -> "0.5"."""
    x = round(x, 4)
    return f"{int(x):,}" if x == int(x) else f"{x:g}"


def _pct(x: float) -> str:
    return f"{num(x * 100)}%"


def _limits(stack: Stack, level: str) -> dict[str, tuple[str, str]]:
    """Alert name prefix -> (fires at, limit it guards), at one severity."""
    from phasestack.synth.thresholds import thresholds

    t = thresholds(stack)
    r, pg, pgb = stack.redis, stack.postgres, stack.pgbouncer
    share = t[f"pg_connections_{level}"]
    pool = (f"PgBouncer opens {stack.pgbouncer_server_connections}" if pgb.enabled else
            f"the API pools {stack.app.app_pool_per_pod} per pod")
    return {
        "ApiErrorRate": (f"5xx > {_pct(t[f'error_rate_{level}'])} of requests for 5m",
                         f"monitoring.error_rate_{level}"),
        "ApiLatencyP99": (f"P99 > {num(t[f'latency_p99_{level}'] * 1000)} ms for 5m",
                          f"app.p99_ms {num(stack.app.p99_ms)}"),
        "RedisMemory": (f"> {_pct(t[f'redis_memory_{level}'])} of maxmemory = "
                        f"{num(round(r.maxmemory_mb * t[f'redis_memory_{level}']))} MB a node",
                        f"redis.maxmemory_mb {r.maxmemory_mb}"),
        "RedisCpu": (f"> {num(t[f'redis_cpu_{level}'])} of a core for 5m",
                     "Redis' one main thread"),
        "PostgresConnections": (f"> {_pct(share)} of max_connections = "
                                f"{num(round(pg.max_connections * share))} connections",
                                f"postgres.max_connections {pg.max_connections} ({pool})"),
        "PostgresQueryLatency": (f"mean statement > {num(t[f'pg_query_{level}'] * 1000)} ms "
                                 "for 5m", f"app.query_ms {num(stack.app.query_ms)}"),
        "PersistentVolumeUsage": (f"a volume > {_pct(t[f'volume_usage_{level}'])} full for 5m",
                                  "each volume's storage_gb"),
    }


def _fixed(stack: Stack) -> dict[str, tuple[str, str]]:
    from phasestack.synth.thresholds import rps_critical, thresholds

    pgb, hpa = stack.pgbouncer, stack.api.hpa
    return {
        "NginxRequestRateCritical": (
            f"> {rps_critical(stack)} rps for 2m",
            f"the API ceiling {num(api_capacity_rps(stack))} rps"
            + ("" if stack.monitoring.rps_critical is None else
               " (monitoring.rps_critical)")),
        "HpaAtMaxReplicas": ("an HPA at its maximum for 15m",
                             f"api.hpa.max_replicas {hpa.max_replicas}" if hpa.enabled
                             else "the HPAs' max_replicas"),
        "PgBouncerClientsWaiting": (
            "a client waits for a server connection for 1m",
            f"pgbouncer.default_pool_size {pgb.default_pool_size} x {pgb.replicas} pods"),
        "PostgresReplicationLag": (
            f"a replica > {num(thresholds(stack)['replication_lag_seconds'])} s behind for 2m",
            "postgres.read_replicas"),
        "PostgresReplicaNotStreaming": ("a replication slot without a replica for 2m",
                                        "postgres.read_replicas"),
        "PostgresReplicaNotServing": ("a replica unready for 2m",
                                      "postgres.replica_max_lag_mb"),
        "PostgresStandbyNotStreaming": ("a standby without a streaming WAL receiver for 2m",
                                        "postgres.read_replicas (failover candidates)"),
        "PostgresWALArchivingFailing": ("the last WAL archive attempt failed after the last "
                                        "success, for 5m",
                                        "postgres.backup (the RPO: archive_timeout_s)"),
        "ScrapeTargetDown": ("a target unscraped for 5m", "every scrape job"),
        "ContainerOOMKilled": ("a container OOMKilled and restarted within 15m",
                               "each container's memory limit"),
        "ContainerRestarting": ("3 restarts of a container within 15m",
                                "each container's probes and start-up"),
        "ContainerCpuThrottled": (
            f"a container throttled in > {_pct(thresholds(stack)['cpu_throttled'])} of its CPU "
            "periods for 15m", "each container's CPU limit"),
        "AlertmanagerNotificationsFailing": ("a receiver's notifications failing for 10m",
                                             "monitoring.alerting.receivers"),
    }


def notifies(stack: Stack, severity: str) -> str:
    """Who an alert of `severity` reaches (monitoring.alerting)."""
    a = stack.monitoring.alerting
    if a.external:
        return f"the Alertmanager at {', '.join(a.external.urls)} (its routes)"
    names = [f"{r.name} ({r.kind})" for r in a.receivers if severity in r.severities]
    if names:
        return ", ".join(names)
    return ("no one (no receiver takes it)" if a.alertmanager
            else "no one (set monitoring.alerting)")


def guards(stack: Stack) -> list[dict[str, str]]:
    """[{alert, severity, fires, guards, notifies}] for every rule the stack's Prometheus
    loads."""
    if not (stack.monitoring.prometheus and stack.monitoring.alerts):
        return []
    from phasestack.synth.prometheus import alert_rules

    fixed = _fixed(stack)
    levels = {level: _limits(stack, level) for level in ("warning", "critical")}
    out = []
    for group in yaml.load(alert_rules(stack), Loader=FAST)["groups"]:  # a safe loader (libyaml)
        for rule in group["rules"]:
            name, severity = rule["alert"], rule["labels"]["severity"]
            base = name.removesuffix(severity.capitalize())
            fires, guarded = fixed[name] if name in fixed else levels[severity][base]
            out.append({"alert": name, "severity": severity, "fires": fires,
                        "guards": guarded, "notifies": notifies(stack, severity)})
    return out

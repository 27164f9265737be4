"""Alert and dashboard thresholds, and the numbers the alert template prints, preformatted.

Pure data for templates/prometheus/alerts.yml.j2 and the Grafana panels: the template does no
arithmetic or formatting of its own.
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.plan.capacity import api_capacity_rps

# review 002 (002_f99052a1f9a0162e.txt), section "12. Required Metrics / Monitoring Dashboard
# Thresholds"; the same numbers colour the Grafana panels (phasestack.synth.grafana).
# The request-rate threshold is per stack: see rps_critical().
THRESHOLDS: dict[str, float] = {
    "redis_memory_warning": 0.6,       # Redis memory warning > 60%
    "redis_memory_critical": 0.8,      # Redis memory critical > 80%
    "redis_cpu_warning": 0.5,          # Redis CPU warning > 50%
    "redis_cpu_critical": 0.7,         # Redis CPU critical > 70%
    "pg_connections_warning": 0.6,     # PostgreSQL connections > 12/20
    "pg_connections_critical": 0.9,    # PostgreSQL connections > 18/20
    "pg_query_warning": 0.05,          # PostgreSQL query latency > 50ms
    "pg_query_critical": 0.1,          # PostgreSQL query latency > 100ms
    # Auth latency P99 > 300ms / > 500ms: per stack, from app.p99_ms (see thresholds())
    # the error rate (> 0.5% / > 1%) and the request rate are per stack: see thresholds()
    # not from a review: phasestack's choice, see templates/prometheus/alerts.yml.j2
    "replication_lag_seconds": 30,
    # monitoring.node_metrics, not from a review: a volume 80% / 90% full (PostgreSQL's WAL and
    # Prometheus' TSDB grow in bursts); throttled in 25% of CPU periods, kube-prometheus'
    # CPUThrottlingHigh line
    "volume_usage_warning": 0.8,
    "volume_usage_critical": 0.9,
    "cpu_throttled": 0.25,
}


# Review 002, "12. Required Metrics" sets RPS critical > 1,500 for a system whose own burst
# model, "2. Target Load Modeling", peaks at 1,666 rps: the alert sits at ~90% of the design
# peak. A fixed 1,500 would fire at phase3's design peak and never on a small stack, so the
# alert keeps that ratio to each stack's own ceiling.
RPS_CRITICAL_SHARE = 0.9

# PostgresQueryLatency: review 002's 50 / 100 ms, or 2x / 4x the stack's own mean query time
# (app.query_ms) where that is higher: a stack whose queries take 50 ms must not warn at its
# normal mean. phasestack's choice of factors; with the default 10 ms the review's numbers hold.
QUERY_SLOWDOWN = {"warning": 2, "critical": 4}


def pg_query(stack: Stack, level: str) -> float:
    """Seconds of mean statement time that fire PostgresQueryLatency<Level>."""
    return max(THRESHOLDS[f"pg_query_{level}"], QUERY_SLOWDOWN[level] * stack.app.query_ms / 1000)


# review 002's critical P99 (500 ms) over its warning (300 ms)
P99_CRITICAL_FACTOR = 5 / 3


def latency_p99(stack: Stack) -> dict[str, float]:
    """Seconds of P99 that fire ApiLatencyP99Warning / Critical: the app's objective, and 5/3
    of it (300 / 500 ms by default)."""
    ms = stack.app.p99_ms
    return {"latency_p99_warning": ms / 1000,
            "latency_p99_critical": round(ms * P99_CRITICAL_FACTOR) / 1000}


def rps_critical(stack: Stack) -> int:
    """NginxRequestRateCritical: the stack's monitoring.rps_critical, else the request rate
    above 90% of the API ceiling, whole rps."""
    if stack.monitoring.rps_critical is not None:
        return stack.monitoring.rps_critical
    return round(RPS_CRITICAL_SHARE * api_capacity_rps(stack))


def thresholds(stack: Stack) -> dict[str, float]:
    """Every threshold of the stack's alerts and panels: the review-002 table, the stack's
    error-rate levels (a review may set its own: 000 alerts above 5%), its request rate, its
    latency objective and its query-time levels."""
    m = stack.monitoring
    return {**THRESHOLDS, "error_rate_warning": m.error_rate_warning,
            "error_rate_critical": m.error_rate_critical, "rps_critical": rps_critical(stack),
            **latency_p99(stack),
            **{f"pg_query_{level}": pg_query(stack, level) for level in QUERY_SLOWDOWN}}


def _num(x: float) -> str:
    return f"{x:g}"


def _levels(t: dict[str, float], key: str, scale: float, unit: str) -> list[dict[str, str]]:
    """Both severities of one threshold, preformatted for the template: the name suffix, the
    PromQL number, and the number as people read it (0.58 -> "58%")."""
    return [{"severity": level, "suffix": level.capitalize(),
             "threshold": _num(t[f"{key}_{level}"]),
             "shown": f"{_num(round(t[f'{key}_{level}'] * scale, 6))}{unit}"}
            for level in ("warning", "critical")]


def alert_values(stack: Stack) -> dict:
    """The template's numbers, each in the form it prints."""
    t = thresholds(stack)
    return {
        "error_rate": _levels(t, "error_rate", 100, "%"),
        "latency_p99": _levels(t, "latency_p99", 1000, "ms"),
        "redis_memory": _levels(t, "redis_memory", 100, "%"),
        "redis_cpu": _levels(t, "redis_cpu", 100, "%"),
        "pg_connections": _levels(t, "pg_connections", 100, "%"),
        "pg_query": _levels(t, "pg_query", 1000, "ms"),
        "rps_critical": str(rps_critical(stack)),
        "rps_basis": "the stack's monitoring.rps_critical" if stack.monitoring.rps_critical
        # review 002, Required Metrics: 1,500 of its 1,666 rps peak
        else "90% of the API ceiling",
        "replication_lag_seconds": _num(THRESHOLDS["replication_lag_seconds"]),
        "volume_usage": _levels(t, "volume_usage", 100, "%"),
        "cpu_throttled": {"threshold": _num(t["cpu_throttled"]),
                          "shown": f"{_num(t['cpu_throttled'] * 100)}%"},
    }

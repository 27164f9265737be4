"""Prometheus: scrape configuration, alert rules, and its Kubernetes manifests.

Pure: prometheus_yml() and alert_rules() return the file text the pod loads, so tests can feed
the very same text to promtool.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Resources, Stack
from phasestack.synth import kube_state_metrics as ksm
from phasestack.synth.common import (
    API,
    IMAGES,
    NGINX,
    PGBOUNCER,
    PORTS,
    POSTGRES,
    POSTGRES_REPLICA,
    PROMETHEUS,
    REDIS,
    config_hash,
    config_map,
    container,
    deployment,
    dns,
    empty_dir,
    http_probe,
    meta,
    pod_spec,
    render_template,
    resources,
    selector,
    service,
    service_account,
)

COMPONENT = "monitoring"
UID = 65534  # prom/prometheus runs as nobody
CONFIG_DIR, DATA_DIR = "/etc/prometheus", "/prometheus"
RULES_FILE = "alerts.yml"
DATA_PVC = "prometheus-data"
DNS_REFRESH = "30s"  # how soon a pod the HPA adds is scraped

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
    "latency_p99_warning": 0.3,        # Auth latency P99 > 300ms
    "latency_p99_critical": 0.5,       # Auth latency P99 > 500ms (review 001: 500 ms too)
    "error_rate_warning": 0.005,       # Error rate > 0.5%
    "error_rate_critical": 0.01,       # Error rate > 1% (review 001, Monitoring & Alerting)
    # not from a review: phasestack's choice, see templates/prometheus/alerts.yml.j2
    "replication_lag_seconds": 30,
}


# Review 002, "12. Required Metrics" sets RPS critical > 1,500 for a system whose own burst
# model, "2. Target Load Modeling", peaks at 1,666 rps: the alert sits at ~90% of the design
# peak. A fixed 1,500 would fire at phase3's design peak and never on a small stack, so the
# alert keeps that ratio to each stack's own ceiling.
RPS_CRITICAL_SHARE = 0.9


def api_capacity_rps(stack: Stack) -> float:
    """The planner's API ceiling, as phasestack.capacity._api computes it: max API pods x
    pod_rps x the HPA's CPU target (pods run at that utilisation, not at 100%)."""
    api = stack.api
    return api.max_pods * stack.app.pod_rps * api.hpa.cpu_target / 100


def rps_critical(stack: Stack) -> int:
    """NginxRequestRateCritical: the request rate above 90% of the API ceiling, whole rps."""
    return round(RPS_CRITICAL_SHARE * api_capacity_rps(stack))


def _num(x: float) -> str:
    return f"{x:g}"


def _levels(key: str, scale: float, unit: str) -> list[dict[str, str]]:
    """Both severities of one review-002 threshold, preformatted for the template: the name
    suffix, the PromQL number, and the number as people read it (0.58 -> "58%")."""
    return [{"severity": level, "suffix": level.capitalize(),
             "threshold": _num(THRESHOLDS[f"{key}_{level}"]),
             "shown": f"{_num(round(THRESHOLDS[f'{key}_{level}'] * scale, 6))}{unit}"}
            for level in ("warning", "critical")]


def alert_values(stack: Stack) -> dict:
    """The template's numbers, each in the form it prints."""
    return {
        "error_rate": _levels("error_rate", 100, "%"),
        "latency_p99": _levels("latency_p99", 1000, "ms"),
        "redis_memory": _levels("redis_memory", 100, "%"),
        "redis_cpu": _levels("redis_cpu", 100, "%"),
        "pg_connections": _levels("pg_connections", 100, "%"),
        "pg_query": _levels("pg_query", 1000, "ms"),
        "rps_critical": str(rps_critical(stack)),
        "replication_lag_seconds": _num(THRESHOLDS["replication_lag_seconds"]),
    }


@dataclass(frozen=True)
class Job:
    name: str       # job label
    pod: str        # app.kubernetes.io/name of the pods scraped
    port: int       # container port of the metrics endpoint
    path: str = "/metrics"
    comment: str = ""

    @property
    def service(self) -> str:
        """Headless Service whose A records list the job's pods."""
        return f"scrape-{self.name}"


def jobs(stack: Stack) -> list[Job]:
    """One scrape job per component the stack has (pgbouncer, replicas and kube-state-metrics
    only when present)."""
    out = [
        Job(API, API, stack.api.port, comment="API pods (stack.api.port, /metrics)"),
        Job(NGINX, NGINX, PORTS.nginx_exporter, comment="nginx-prometheus-exporter sidecar"),
        Job(REDIS, REDIS, PORTS.redis_exporter, comment="redis_exporter sidecar"),
        Job(POSTGRES, POSTGRES, PORTS.postgres_exporter,
            comment="postgres_exporter sidecar of the primary"),
    ]
    if stack.postgres.read_replicas > 0:
        out.append(Job(POSTGRES_REPLICA, POSTGRES_REPLICA, PORTS.postgres_exporter,
                       comment="postgres_exporter sidecars of the read replicas"))
    if stack.pgbouncer.enabled:
        out.append(Job(PGBOUNCER, PGBOUNCER, PORTS.pgbouncer_exporter,
                       comment="pgbouncer-exporter sidecar"))
    if ksm.enabled(stack):
        out.append(Job(ksm.NAME, ksm.NAME, ksm.PORT,
                       comment="kube-state-metrics: HPA replica counts (HpaAtMaxReplicas)"))
    return out


def prometheus_yml(stack: Stack, rule_files: list[str] | None = None) -> str:
    """prometheus.yml; rule_files defaults to alerts.yml beside it when alerts are on
    (relative paths resolve against the config file's directory)."""
    if rule_files is None:
        rule_files = [RULES_FILE] if stack.monitoring.alerts else []
    return render_template("prometheus/prometheus.yml.j2", namespace=stack.namespace,
                             scrape_interval=stack.monitoring.scrape_interval,
                             prometheus_port=PORTS.prometheus, rule_files=rule_files,
                             dns_refresh=DNS_REFRESH,
                             jobs=[{**vars(j), "dns": dns(stack, j.service)}
                                   for j in jobs(stack)])


def alert_rules(stack: Stack) -> str:
    """alerts.yml: rules only for the components the stack has."""
    names = [j.name for j in jobs(stack)]
    return render_template(
        "prometheus/alerts.yml.j2", namespace=stack.namespace, t=alert_values(stack), jobs=names,
        pg_jobs=[n for n in names if n in (POSTGRES, POSTGRES_REPLICA)],
        replicas=stack.postgres.read_replicas > 0, pgbouncer=stack.pgbouncer.enabled,
        hpa_targets=ksm.hpa_targets(stack), ksm_job=ksm.NAME)


def scrape_services(stack: Stack) -> list[dict]:
    """Headless, including not-ready pods: a failing pod must show up as up == 0, not vanish."""
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": meta(stack, job.service, COMPONENT),
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                      "selector": selector(job.pod),
                      "ports": [{"name": "metrics", "port": job.port, "targetPort": job.port,
                                 "protocol": "TCP"}]}}
            for job in jobs(stack)]


def manifests(stack: Stack) -> list[dict]:
    mon = stack.monitoring
    if not mon.prometheus:
        return []
    data = {"prometheus.yml": prometheus_yml(stack)}
    if mon.alerts:
        data[RULES_FILE] = alert_rules(stack)
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": meta(stack, DATA_PVC, COMPONENT, pod=PROMETHEUS),
           "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{mon.storage_gb}Gi"}}}}
    port = PORTS.prometheus
    main = container(
        PROMETHEUS, IMAGES.prometheus,
        resources(Resources(cpu_request="250m", cpu_limit="1", memory_request="512Mi",
                            memory_limit="1Gi")),
        {"http": port},
        http_probe("/-/healthy", "http", delay=10), http_probe("/-/ready", "http"),
        args=[f"--config.file={CONFIG_DIR}/prometheus.yml",
              f"--storage.tsdb.path={DATA_DIR}",
              f"--storage.tsdb.retention.time={mon.retention}",
              f"--web.listen-address=:{port}"],
        volumeMounts=[{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                      {"name": "data", "mountPath": DATA_DIR},
                      {"name": "tmp", "mountPath": "/tmp"}])
    spec = pod_spec(
        PROMETHEUS, UID, [main], service_account=PROMETHEUS, spread=False,
        volumes=[{"name": "config", "configMap": {"name": PROMETHEUS}},
                 {"name": "data", "persistentVolumeClaim": {"claimName": DATA_PVC}},
                 empty_dir("tmp")])
    dep = deployment(stack, PROMETHEUS, COMPONENT, 1, spec,
                     annotations=config_hash(*data.values()))
    # one TSDB on a ReadWriteOnce volume: the old pod must let go before the new one starts
    dep["spec"]["strategy"] = {"type": "Recreate"}
    return [service_account(stack, PROMETHEUS, COMPONENT),
            config_map(stack, PROMETHEUS, COMPONENT, data), pvc, dep,
            service(stack, PROMETHEUS, COMPONENT, {"http": port}), *scrape_services(stack)]

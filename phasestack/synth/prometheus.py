"""Prometheus: scrape configuration, alert rules, and its Kubernetes manifests.

Pure: prometheus_yml() and alert_rules() return the file text the pod loads, so tests can feed
the very same text to promtool.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Resources, Stack
from phasestack.synth import alertmanager as am
from phasestack.synth import cnpg, kubelet
from phasestack.synth import kube_state_metrics as ksm
from phasestack.synth.common import (
    API,
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
    named,
    pod_spec,
    render_template,
    resources,
    service,
    service_account,
)
from phasestack.synth.thresholds import (  # re-exported: grafana and the tests read them here
    RPS_CRITICAL_SHARE,
    THRESHOLDS,
    alert_values,
    api_capacity_rps,
    rps_critical,
    thresholds,
)

__all__ = ["THRESHOLDS", "RPS_CRITICAL_SHARE", "alert_values", "api_capacity_rps",
           "rps_critical", "thresholds", "jobs", "prometheus_yml", "alert_rules", "manifests",
           "RULES_FILE"]

COMPONENT = "monitoring"
UID = 65534  # prom/prometheus runs as nobody
CONFIG_DIR, DATA_DIR = "/etc/prometheus", "/prometheus"
RULES_FILE = "alerts.yml"
DATA_PVC = "prometheus-data"
DNS_REFRESH = "30s"  # how soon a pod the HPA adds is scraped
SIZE = Resources(cpu_request="250m", cpu_limit="1", memory_request="512Mi", memory_limit="1Gi")

@dataclass(frozen=True)
class Job:
    name: str       # job label
    pod: str        # base name (app.kubernetes.io/name without a prefix) of the pods scraped
    port: int       # container port of the metrics endpoint
    path: str = "/metrics"
    comment: str = ""
    prefix: str = ""  # their instance's name prefix (Stack.prefix_of)
    role: str = ""    # engine cloudnativepg: the pods of this role (primary, replica) only
    strip: str = ""   # metric name prefix dropped at scrape (the operator's exporter's cnpg_)

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": f"{self.prefix}{self.pod}",
                **({cnpg.ROLE_LABEL: self.role} if self.role else {})}

    @property
    def service(self) -> str:
        """Headless Service whose A records list the job's pods."""
        return f"scrape-{self.name}"


def jobs(stack: Stack) -> list[Job]:
    """One scrape job per component the stack has (pgbouncer, replicas and kube-state-metrics
    only when present); a Monitoring on its own scrapes the instances it watches."""
    def job(component: str, name: str, port: int, comment: str, path: str = "/metrics"):
        return Job(name, name, port, path, comment, stack.prefix_of(component))

    m = stack.api.metrics
    on_cnpg = cnpg.enabled(stack)
    wanted = [
        (m.enabled and stack.scrapes(API), lambda: job(
            API, API, stack.api.metrics_port, f"API pods (port {stack.api.metrics_port}, "
            f"{m.path})", m.path)),
        (stack.has(NGINX) and stack.scrapes(NGINX), lambda: job(
            NGINX, NGINX, PORTS.nginx_exporter, "nginx-prometheus-exporter sidecar")),
        # a managed one is the provider's to watch
        (stack.runs(REDIS) and stack.scrapes(REDIS), lambda: job(
            REDIS, REDIS, PORTS.redis_exporter, "redis_exporter sidecar")),
        (stack.runs(POSTGRES) and stack.scrapes(POSTGRES) and not on_cnpg, lambda: job(
            POSTGRES, POSTGRES, PORTS.postgres_exporter,
            "postgres_exporter sidecar of the primary")),
        (stack.runs(POSTGRES) and stack.scrapes(POSTGRES) and stack.postgres.read_replicas > 0
         and not on_cnpg,
         lambda: job(POSTGRES, POSTGRES_REPLICA, PORTS.postgres_exporter,
                     "postgres_exporter sidecars of the read replicas")),
        # the jobs follow the roles: after a failover the promoted pod is job postgres
        (stack.scrapes(POSTGRES) and on_cnpg, lambda: Job(
            POSTGRES, POSTGRES, PORTS.postgres_exporter,
            comment="the CloudNativePG primary's exporter", prefix=stack.prefix_of(POSTGRES),
            role="primary", strip=cnpg.METRIC_PREFIX)),
        (stack.scrapes(POSTGRES) and on_cnpg and stack.postgres.read_replicas > 0, lambda: Job(
            POSTGRES_REPLICA, POSTGRES, PORTS.postgres_exporter,
            comment="the CloudNativePG standbys' exporters", prefix=stack.prefix_of(POSTGRES),
            role="replica", strip=cnpg.METRIC_PREFIX)),
        (stack.has(PGBOUNCER) and stack.scrapes(PGBOUNCER), lambda: job(
            PGBOUNCER, PGBOUNCER, PORTS.pgbouncer_exporter, "pgbouncer-exporter sidecar")),
        (ksm.enabled(stack), lambda: Job(
            ksm.NAME, ksm.NAME, ksm.PORT,
            comment="kube-state-metrics: HPA replica counts (HpaAtMaxReplicas)",
            prefix=stack.prefix)),
        (am.enabled(stack), lambda: Job(
            am.ALERTMANAGER, am.ALERTMANAGER, PORTS.alertmanager,
            comment="Alertmanager: notifications sent and failed", prefix=stack.prefix)),
    ]
    return [make() for on, make in wanted if on]


def prometheus_yml(stack: Stack, rule_files: list[str] | None = None,
                   token_dir: str = kubelet.TOKEN_DIR) -> str:
    """prometheus.yml; rule_files defaults to alerts.yml beside it when alerts are on
    (relative paths resolve against the config file's directory); token_dir holds the pod's
    ServiceAccount token and CA (the kubelet jobs; promtool checks that they exist)."""
    if rule_files is None:
        rule_files = [RULES_FILE] if stack.monitoring.alerts else []
    return render_template("prometheus/prometheus.yml.j2", namespace=stack.namespace,
                             scrape_interval=stack.monitoring.scrape_interval,
                             prometheus_port=PORTS.prometheus, rule_files=rule_files,
                             dns_refresh=DNS_REFRESH, alertmanagers=am.targets(stack),
                             kubelet_jobs=kubelet.scrape_jobs(stack), token_dir=token_dir,
                             jobs=[{**vars(j), "dns": dns(stack, j.service)}
                                   for j in jobs(stack)])


def api_series(stack: Stack) -> dict | None:
    """The API's request series for alerts and panels (api.metrics), None without them."""
    m = stack.api.metrics
    if not (m.enabled and stack.scrapes(API)):  # a Monitoring on its own may watch no API
        return None
    return {"requests": m.requests_total, "status": m.status_label, "buckets": m.duration_bucket,
            "job": API}


def alert_rules(stack: Stack) -> str:
    """alerts.yml: rules only for the components the stack has."""
    names = [j.name for j in jobs(stack)] + [j["name"] for j in kubelet.scrape_jobs(stack)]
    return render_template(
        "prometheus/alerts.yml.j2", namespace=stack.namespace, t=alert_values(stack), jobs=names,
        api=api_series(stack),
        pg_jobs=[n for n in names if n in (POSTGRES, POSTGRES_REPLICA)],
        replicas=POSTGRES_REPLICA in names, pgbouncer=PGBOUNCER in names,
        hpa_targets=ksm.hpa_targets(stack), ksm_job=ksm.NAME,
        kubelet=kubelet.enabled(stack), cnpg=cnpg.enabled(stack) and POSTGRES in names,
        archiving=cnpg.enabled(stack) and POSTGRES in names and bool(stack.postgres.backup),
        replica_set=f"{stack.prefix_of(POSTGRES)}{POSTGRES_REPLICA}")


def scrape_services(stack: Stack) -> list[dict]:
    """Headless, including not-ready pods: a failing pod must show up as up == 0, not vanish."""
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": meta(stack, job.service, COMPONENT),
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                      "selector": job.selector,
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
        PROMETHEUS, stack.monitoring.prometheus_image,
        resources(SIZE),
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
        stack, PROMETHEUS, UID, [main], service_account=PROMETHEUS, spread=False,
        volumes=[{"name": "config", "configMap": {"name": named(stack, PROMETHEUS)}},
                 {"name": "data",
                  "persistentVolumeClaim": {"claimName": named(stack, DATA_PVC)}},
                 empty_dir("tmp")])
    if kubelet.enabled(stack):  # its token, bound by kubelet's ClusterRoleBinding
        spec["automountServiceAccountToken"] = True
    dep = deployment(stack, PROMETHEUS, COMPONENT, 1, spec,
                     annotations=config_hash(*data.values()))
    # one TSDB on a ReadWriteOnce volume: the old pod must let go before the new one starts
    dep["spec"]["strategy"] = {"type": "Recreate"}
    return [service_account(stack, PROMETHEUS, COMPONENT),
            config_map(stack, PROMETHEUS, COMPONENT, data), pvc, dep,
            service(stack, PROMETHEUS, COMPONENT, {"http": port}), *scrape_services(stack)]

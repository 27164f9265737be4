"""Monitoring: Prometheus, Grafana, the alert rules and their thresholds."""


from pydantic import Field, model_validator

from phasestack.model.alerting import Alerting
from phasestack.model.base import IMAGE, INTERVAL, RETENTION, Spec

MAX_SCRAPE_S = 60


class Monitoring(Spec):
    prometheus: bool = Field(True, description="Deploy Prometheus.")
    grafana: bool = Field(False, description="Deploy Grafana with provisioned dashboards.")
    alerts: bool = Field(False, description="Load the alert rules into Prometheus.")
    retention: str = Field("15d", pattern=RETENTION, description="Prometheus retention.")
    scrape_interval: str = Field("15s", pattern=INTERVAL,
                                 description="Scrape interval, at most 60s (the alert rules' "
                                             "shortest rate window, 2m, needs two samples).")
    storage_gb: int = Field(10, ge=1, le=65_536, description="Prometheus volume size, GiB.")
    prometheus_image: str = Field("prom/prometheus:v3.16.0", pattern=IMAGE,
                                  description="Prometheus image.")
    grafana_image: str = Field("grafana/grafana:11.2.0", pattern=IMAGE,
                               description="Grafana image.")
    # review 002 (002_f99052a1f9a0162e.txt), 12. Required Metrics: error rate > 0.5% / > 1%
    error_rate_warning: float = Field(0.005, gt=0, lt=1,
                                      description="5xx share that warns (ApiErrorRateWarning).")
    error_rate_critical: float = Field(0.01, gt=0, le=1,
                                       description="5xx share that pages (ApiErrorRateCritical).")
    rps_critical: int | None = Field(
        None, ge=1, le=10**7,
        description="Request rate (rps) of NginxRequestRateCritical; unset: 90% of the API "
                    "ceiling, the ratio of review 002's > 1,500 to its 1,666 rps peak.")
    kube_state_metrics_image: str = Field(
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0", pattern=IMAGE,
        description="kube-state-metrics image (stacks with an HPA and Prometheus).")
    node_metrics: bool = Field(
        False, description="Scrape the kubelets (cAdvisor, volume stats) for the CPU "
                            "throttling and volume fill alerts; adds the stack's one "
                            "cluster-scoped grant, a ClusterRole to list nodes and read their "
                            "metrics.")
    alerting: Alerting = Field(default_factory=Alerting,
                               description="Who is notified: an Alertmanager with receivers, "
                                           "or an existing Alertmanager.")

    @model_validator(mode="after")
    def _needs_prometheus(self) -> "Monitoring":
        if (self.grafana or self.alerts) and not self.prometheus:
            raise ValueError("grafana and alerts need prometheus: true")
        if self.node_metrics and not self.prometheus:
            raise ValueError("node_metrics needs prometheus: true")
        if self.alerting.enabled and not self.alerts:
            raise ValueError("alerting needs alerts: true (without rules nothing fires)")
        # Prometheus 3's windows are left-open: [2m] holds one sample at a 2m interval, and
        # rate() of one sample is empty, so NginxRequestRateCritical could never fire
        seconds = int(self.scrape_interval[:-1]) * (60 if self.scrape_interval[-1] == "m" else 1)
        if not 1 <= seconds <= MAX_SCRAPE_S:
            raise ValueError(f"scrape_interval {self.scrape_interval} must be between 1s and "
                             f"{MAX_SCRAPE_S}s: the alert rules rate over 2m, which needs two "
                             "samples")
        if self.error_rate_warning >= self.error_rate_critical:
            raise ValueError(f"error_rate_warning {self.error_rate_warning:g} must be below "
                             f"error_rate_critical {self.error_rate_critical:g}")
        return self

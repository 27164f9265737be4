"""Monitoring: Prometheus (scrape config, alert rules), Grafana (datasource, dashboards),
with any HPA kube-state-metrics (the HPA series the HpaAtMaxReplicas alert reads), and the
Alertmanager of monitoring.alerting.

The work lives in phasestack.synth.prometheus, .grafana, .kube_state_metrics and
.alertmanager; this module keeps the component contract: manifests() and flows().
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import alertmanager, grafana, kubelet, prometheus
from phasestack.synth import kube_state_metrics as ksm
from phasestack.synth.common import ALERTMANAGER, ANY, GRAFANA, PORTS, PROMETHEUS, Flow
from phasestack.synth.prometheus import alert_rules, jobs, prometheus_yml

__all__ = ["alert_rules", "flows", "manifests", "prometheus_yml"]



def manifests(stack: Stack) -> list[dict]:
    return [*prometheus.manifests(stack), *grafana.manifests(stack), *ksm.manifests(stack),
            *alertmanager.manifests(stack), *kubelet.manifests(stack)]


def flows(stack: Stack) -> list[Flow]:
    mon = stack.monitoring
    if not mon.prometheus:
        return []
    # targets come from DNS (kube-dns egress is allowed for every pod by network.py), so
    # Prometheus needs no Kubernetes API access (kube-state-metrics is the one pod that does)
    out = [Flow(PROMETHEUS, job.pod, job.port) for job in jobs(stack)] + ksm.flows(stack) \
        + kubelet.flows(stack)
    if alertmanager.enabled(stack):  # alerts pushed (the scrape job is the same port)
        out.append(Flow(PROMETHEUS, ALERTMANAGER, PORTS.alertmanager))
    if mon.grafana:
        out += [Flow(GRAFANA, PROMETHEUS, PORTS.prometheus), Flow(ANY, GRAFANA, PORTS.grafana)]
    return out

"""Monitoring: Prometheus (scrape config, alert rules) and Grafana (datasource, dashboards).

The work lives in phasestack.synth.prometheus and phasestack.synth.grafana; this module keeps
the component contract: manifests() and flows().
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import grafana, prometheus
from phasestack.synth.common import GRAFANA, PORTS, PROMETHEUS, Flow
from phasestack.synth.prometheus import alert_rules, jobs, prometheus_yml

__all__ = ["alert_rules", "flows", "manifests", "prometheus_yml"]

ANY = "*"


def manifests(stack: Stack) -> list[dict]:
    return [*prometheus.manifests(stack), *grafana.manifests(stack)]


def flows(stack: Stack) -> list[Flow]:
    mon = stack.monitoring
    if not mon.prometheus:
        return []
    # targets come from DNS (kube-dns egress is allowed for every pod by network.py), so
    # Prometheus needs no Kubernetes API access
    out = [Flow(PROMETHEUS, job.pod, job.port) for job in jobs(stack)]
    if mon.grafana:
        out += [Flow(GRAFANA, PROMETHEUS, PORTS.prometheus), Flow(ANY, GRAFANA, PORTS.grafana)]
    return out

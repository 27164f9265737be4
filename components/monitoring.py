"""Monitoring: Prometheus (with alert rules) and Grafana with provisioned dashboards."""

from __future__ import annotations

import pulumi

from phasestack.components import kube
from phasestack.synth.common import GRAFANA, GRAFANA_SECRET, PROMETHEUS


class MonitoringArgs(kube.KubeArgs):
    pass


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str] | None
    grafana_url: pulumi.Output[str] | None
    grafana_secret_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Monitoring", name, None, opts)
        group = kube.Group(self, args.provider, args.depends_on, args.stack.retain_data)
        group.add_all(args.docs)  # Prometheus' PersistentVolumeClaim is kept like the others
        self.prometheus_url = kube.url_of(group.get("Service", PROMETHEUS))
        grafana = group.get("Service", GRAFANA)
        self.grafana_url = kube.url_of(grafana)
        self.grafana_secret_name = (pulumi.Output.from_input(GRAFANA_SECRET)
                                    if grafana is not None else None)
        self.register_outputs(kube.present(prometheus_url=self.prometheus_url,
                                           grafana_url=self.grafana_url,
                                           grafana_secret_name=self.grafana_secret_name))

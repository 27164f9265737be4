"""Monitoring: Prometheus (with alert rules), Grafana with provisioned dashboards and the
Alertmanager that notifies the stack's receivers.

On its own: `Monitoring("obs", MonitoringArgs(namespace="shop", alerts=True, grafana=True,
watch=[("sessions", redis_args), ("orders-pool", pool_args)]), opts)` deploys obs-prometheus
scraping sessions-redis and orders-pool-pgbouncer, with alert thresholds from their args; in a
Topology it registers the stack's share.
"""

from __future__ import annotations

import pulumi

from phasestack.components import instance, kube
from phasestack.model import MonitoringArgs
from phasestack.synth.wiring import ALERTMANAGER, GRAFANA, GRAFANA_SECRET, PROMETHEUS, named


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str] | None
    grafana_url: pulumi.Output[str] | None
    grafana_secret_name: pulumi.Output[str] | None
    alertmanager_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringArgs | kube.KubeArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Monitoring", name, None, opts)
        share = instance.share(self, name, args, "monitoring")
        stack = share.stack
        group = kube.Group(self, share.provider, share.depends_on, stack.retain_data)
        group.add_all(share.docs)  # Prometheus' PersistentVolumeClaim is kept like the others
        self.prometheus_url = kube.url_of(group.get("Service", named(stack, PROMETHEUS)))
        grafana = group.get("Service", named(stack, GRAFANA))
        self.grafana_url = kube.url_of(grafana)
        self.grafana_secret_name = (pulumi.Output.from_input(named(stack, GRAFANA_SECRET))
                                    if grafana is not None else None)
        self.alertmanager_url = kube.url_of(group.get("Service", named(stack, ALERTMANAGER)))
        self.register_outputs(kube.present(prometheus_url=self.prometheus_url,
                                           grafana_url=self.grafana_url,
                                           grafana_secret_name=self.grafana_secret_name,
                                           alertmanager_url=self.alertmanager_url))

"""Alertmanager (monitoring.alerting): its configuration, routing by severity to the team's
receivers, and its manifests. Pure: alertmanager_yml() returns the file the pod loads, so the
tests start the real server and amtool with the very same text.

One replica without gossip (--cluster.listen-address empty): a second one only deduplicates
when the two form a cluster, and one pod that Kubernetes restarts is what a namespace's
Prometheus needs. Silences and the notification log live on an emptyDir: they survive a
container restart, not the pod's rescheduling.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from phasestack.model import Resources, Stack
from phasestack.model.alerting import Receiver
from phasestack.synth.common import (
    ALERTMANAGER,
    PORTS,
    SECRETS_DIR,
    config_hash,
    config_map,
    container,
    deployment,
    dns,
    empty_dir,
    http_probe,
    named,
    pod_spec,
    render_template,
    resources,
    secret_mount,
    secret_volume,
    service,
)

COMPONENT = "monitoring"
UID = 65534  # prom/alertmanager runs as nobody
CONFIG_DIR, DATA_DIR = "/etc/alertmanager", "/alertmanager"
BLACKHOLE = "unrouted"
FAILING = "AlertmanagerNotificationsFailing"  # templates/prometheus/alerts.yml.j2
SIZE = Resources(cpu_request="50m", cpu_limit="250m", memory_request="64Mi",
                 memory_limit="128Mi")


def enabled(stack: Stack) -> bool:
    return stack.monitoring.prometheus and stack.monitoring.alerting.alertmanager


def volume(receiver: Receiver) -> str:
    return f"receiver-{receiver.name}"


def credential_file(receiver: Receiver, secrets_dir: str = SECRETS_DIR) -> str:
    """Where the receiver's credential is mounted (secret_mount's layout)."""
    return f"{secrets_dir}/{volume(receiver)}/{receiver.key}"


def routes(stack: Stack) -> list[dict]:
    """[{receiver, severities}]: each receiver gets the severities it takes, every receiver
    that matches is notified (continue: true)."""
    return [{"receiver": r.name, "severities": "|".join(r.severities)}
            for r in stack.monitoring.alerting.receivers]


def alertmanager_yml(stack: Stack, secrets_dir: str = SECRETS_DIR) -> str:
    a = stack.monitoring.alerting
    return render_template(
        "alertmanager/alertmanager.yml.j2", namespace=stack.namespace, secrets_dir=secrets_dir,
        blackhole=BLACKHOLE, failing=FAILING, group_wait=a.group_wait,
        group_interval=a.group_interval,
        repeat_interval=a.repeat_interval, routes=routes(stack),
        receivers=[{"name": r.name, "kind": r.kind, "channel": r.channel,
                    "file": credential_file(r, secrets_dir),
                    "send_resolved": "true" if r.send_resolved else "false"}
                   for r in a.receivers])


def manifests(stack: Stack) -> list[dict]:
    if not enabled(stack):
        return []
    a = stack.monitoring.alerting
    data = {"alertmanager.yml": alertmanager_yml(stack)}
    port = PORTS.alertmanager
    main = container(
        ALERTMANAGER, a.image, resources(SIZE), {"http": port},
        http_probe("/-/healthy", "http", delay=10), http_probe("/-/ready", "http"),
        args=[f"--config.file={CONFIG_DIR}/alertmanager.yml", f"--storage.path={DATA_DIR}",
              f"--web.listen-address=:{port}", "--cluster.listen-address="],
        volumeMounts=[{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                      {"name": "data", "mountPath": DATA_DIR},
                      *(secret_mount(volume(r)) for r in a.receivers)])
    spec = pod_spec(
        stack, ALERTMANAGER, UID, [main], spread=False,
        volumes=[{"name": "config", "configMap": {"name": named(stack, ALERTMANAGER)}},
                 empty_dir("data"),
                 *(secret_volume(volume(r), r.secret, [r.key]) for r in a.receivers)])
    return [config_map(stack, ALERTMANAGER, COMPONENT, data),
            deployment(stack, ALERTMANAGER, COMPONENT, 1, spec,
                       annotations=config_hash(*data.values())),
            service(stack, ALERTMANAGER, COMPONENT, {"http": port})]


def targets(stack: Stack) -> list[dict]:
    """prometheus.yml's alerting.alertmanagers: [{scheme, path, target}], the one here or the
    existing ones (alerting.external)."""
    a = stack.monitoring.alerting
    if enabled(stack):
        return [{"scheme": "http", "path": "", "target": f"{dns(stack, ALERTMANAGER)}:"
                                                         f"{PORTS.alertmanager}"}]
    if a.external is None:
        return []
    out = []
    for url in a.external.urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        out.append({"scheme": parts.scheme, "path": parts.path.rstrip("/"),
                    "target": f"{host}:{port}"})
    return out

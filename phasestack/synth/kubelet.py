"""The kubelets' metrics (monitoring.node_metrics): cAdvisor's CPU throttling per container and
the kubelet's volume statistics per PersistentVolumeClaim, for the ContainerCpuThrottled and
PersistentVolumeUsage alerts (issue 15 item 2).

The one cluster-scoped piece of a stack: Prometheus discovers the nodes and scrapes each
kubelet (port 10250) with its ServiceAccount token, which a ClusterRole allows to list nodes
and read their metrics (nodes/metrics, not nodes/proxy: no access to the kubelet's other
APIs). Every series outside the stack's namespace is dropped at scrape time.
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth.common import ANY, PROMETHEUS, Flow, meta, named
from phasestack.synth.kube_state_metrics import API_SERVER_PORTS  # node discovery asks it too

COMPONENT = "monitoring"
KUBELET_PORT = 10250
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# job -> (metrics path, the series kept)
JOBS = {
    "kubelet-cadvisor": ("/metrics/cadvisor", "container_cpu_cfs_(throttled_)?periods_total"),
    "kubelet": ("/metrics", "kubelet_volume_stats_(used|capacity)_bytes"),
}


def enabled(stack: Stack) -> bool:
    return stack.monitoring.prometheus and stack.monitoring.node_metrics


def role_name(stack: Stack) -> str:
    """Cluster-wide, so the namespace is part of it: prometheus-kubelet-<namespace>."""
    return f"{named(stack, 'prometheus-kubelet')}-{stack.namespace}"


def scrape_jobs(stack: Stack) -> list[dict]:
    """prometheus.yml's kubelet jobs: [{name, path, keep}]."""
    if not enabled(stack):
        return []
    return [{"name": name, "path": path, "keep": keep} for name, (path, keep) in JOBS.items()]


def manifests(stack: Stack) -> list[dict]:
    if not enabled(stack):
        return []
    md = meta(stack, "prometheus-kubelet", COMPONENT, pod=PROMETHEUS)
    md["name"] = role_name(stack)
    del md["namespace"]  # cluster-scoped
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": md,
         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list",
                                                                          "watch"]},
                   {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {**md, "labels": dict(md["labels"])},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": role_name(stack)},
         "subjects": [{"kind": "ServiceAccount", "name": named(stack, PROMETHEUS),
                       "namespace": stack.namespace}]},
    ]


def flows(stack: Stack) -> list[Flow]:
    """To every node's kubelet and to the API server (addresses outside the namespace)."""
    if not enabled(stack):
        return []
    return [Flow(PROMETHEUS, ANY, port) for port in (KUBELET_PORT, *API_SERVER_PORTS)]

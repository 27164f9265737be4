"""kube-state-metrics: the kube_horizontalpodautoscaler_* series the HpaAtMaxReplicas alert reads,
and the containers' restarts and termination reasons (ContainerRestarting, ContainerOOMKilled).

Deployed where HpaAtMaxReplicas exists: Prometheus on and at least one HPA (api or nginx).
A namespaced install: it lists and watches HPAs, Deployments, StatefulSets and Pods of the
stack's own namespace through a Role, so it needs no cluster-wide read access. Prometheus
scrapes it like every other job (phasestack.synth.prometheus.jobs: headless Service
scrape-kube-state-metrics).
"""

from __future__ import annotations

from phasestack.model import Resources, Stack
from phasestack.synth.common import (
    ANY,
    API,
    NGINX,
    Flow,
    container,
    deployment,
    http_probe,
    meta,
    named,
    pod_spec,
    resources,
    worker_name,
)

NAME = "kube-state-metrics"
COMPONENT = "monitoring"
UID = 65534                    # nobody, as upstream's examples/standard/deployment.yaml runs it
PORT, TELEMETRY_PORT = 8080, 8081   # metrics (scraped) and its own telemetry
API_SERVER_PORTS = (443, 6443)      # kubernetes.default Service port and the apiserver's own

# exactly the objects the metrics are read from: resource -> API group
RESOURCES = {"horizontalpodautoscalers": "autoscaling", "deployments": "apps",
             "statefulsets": "apps", "pods": ""}
VERBS = ["get", "list", "watch"]


def hpa_targets(stack: Stack) -> list[str]:
    """Names of the stack's HPAs (each HPA is named after the Deployment it scales): the
    API's, nginx's and the workers'."""
    api = [(API, stack.api.hpa), *((worker_name(w), w.hpa) for w in stack.api.workers)] \
        if stack.scrapes(API) else []
    nginx = [(NGINX, stack.nginx.hpa)] if stack.has(NGINX) and stack.scrapes(NGINX) else []
    return [f"{stack.prefix_of(key)}{name}" for key, scaled in ((API, api), (NGINX, nginx))
            for name, hpa in scaled if hpa.enabled]


def enabled(stack: Stack) -> bool:
    return stack.monitoring.prometheus and bool(hpa_targets(stack))


def args(stack: Stack) -> list[str]:
    return [f"--namespaces={stack.namespace}", f"--resources={','.join(RESOURCES)}",
            f"--port={PORT}", f"--telemetry-port={TELEMETRY_PORT}"]


def rules() -> list[dict]:
    groups: dict[str, list[str]] = {}
    for resource, group in RESOURCES.items():
        groups.setdefault(group, []).append(resource)
    return [{"apiGroups": [group], "resources": names, "verbs": VERBS}
            for group, names in groups.items()]


def _service_account(stack: Stack) -> dict:
    # the pod talks to the API server with this account's token: the one mounted token of the
    # stack, bound to read-only rules on three kinds in one namespace
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta(stack, NAME, COMPONENT), "automountServiceAccountToken": True}


def _role(stack: Stack) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": meta(stack, NAME, COMPONENT), "rules": rules()}


def _role_binding(stack: Stack) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": meta(stack, NAME, COMPONENT),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": named(stack, NAME)},
            "subjects": [{"kind": "ServiceAccount", "name": named(stack, NAME),
                          "namespace": stack.namespace}]}


def _deployment(stack: Stack) -> dict:
    main = container(
        NAME, stack.monitoring.kube_state_metrics_image,
        # phasestack's choice: three kinds in one namespace are a few dozen series
        resources(Resources(cpu_request="10m", cpu_limit="100m", memory_request="32Mi",
                            memory_limit="128Mi")),
        {"http-metrics": PORT, "telemetry": TELEMETRY_PORT},
        # v2.13 serves /livez on the metrics port (it asks the API server's /livez) and
        # /readyz on the telemetry port (ready once its stores hold metrics)
        liveness=http_probe("/livez", "http-metrics"),
        readiness=http_probe("/readyz", "telemetry"),
        args=args(stack))
    spec = pod_spec(stack, NAME, UID, [main], service_account=NAME, spread=False)
    spec["automountServiceAccountToken"] = True  # bound by the RoleBinding above
    return deployment(stack, NAME, COMPONENT, 1, spec)


def manifests(stack: Stack) -> list[dict]:
    if not enabled(stack):
        return []
    return [_service_account(stack), _role(stack), _role_binding(stack), _deployment(stack)]


def flows(stack: Stack) -> list[Flow]:
    """To the API server (any address: its endpoints are outside the namespace). Prometheus ->
    kube-state-metrics comes from prometheus.jobs() like every other scrape."""
    if not enabled(stack):
        return []
    return [Flow(NAME, ANY, port) for port in API_SERVER_PORTS]

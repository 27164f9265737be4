"""The small manifests every synthesizer builds (Deployment, Service, PDB, ConfigMap,
ServiceAccount, HPA) and the names, labels and selectors they carry. Pure; re-exported by
phasestack.synth.common."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth.wiring import named

PART_OF = "phasestack"
MANAGED_BY = "phasestack"
# The one pod-template annotation that rolls the pods when their ConfigMap text changes.
CONFIG_HASH = "phasestack.io/config-hash"

def labels(name: str, component: str, instance: str = "") -> dict[str, str]:
    """The recommended labels; app.kubernetes.io/instance only on a named instance (a stack's
    objects keep the labels they always had, so an upgrade rolls no pod)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        **({"app.kubernetes.io/instance": instance} if instance else {}),
    }


def instance(stack: Stack) -> str:
    """The instance a prefix names ("sessions-" -> "sessions"); "" for a whole stack."""
    return stack.prefix.removesuffix("-")


def selector(stack: Stack, name: str) -> dict[str, str]:
    """The pods named `name` (a base name: the instance's prefix goes on here)."""
    return {"app.kubernetes.io/name": named(stack, name)}


def meta(stack: Stack, name: str, component: str, pod: str | None = None, **extra) -> dict:
    """Object metadata; `pod` is the app.kubernetes.io/name label when it differs from name.
    Both are base names: every helper here that takes the stack puts its prefix on."""
    return {"name": named(stack, name), "namespace": stack.namespace,
            "labels": labels(named(stack, pod or name), component, instance(stack)), **extra}


def pod_template(stack: Stack, name: str, component: str, spec: dict,
                 annotations: dict | None = None) -> dict:
    md: dict = {"labels": labels(named(stack, name), component, instance(stack))}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "spec": spec}


def deployment(stack: Stack, name: str, component: str, replicas: int | None, spec: dict,
               annotations: dict | None = None) -> dict:
    """replicas None leaves spec.replicas out: for a Deployment an HPA scales, so that an apply
    never resets the HPA's current count (the API server defaults a new Deployment to 1 and the
    HPA raises it to its minReplicas at once)."""
    body = {"replicas": replicas} if replicas is not None else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(stack, name, component),
            "spec": {**body, "revisionHistoryLimit": 5,
                     "selector": {"matchLabels": selector(stack, name)},
                     "template": pod_template(stack, name, component, spec, annotations)}}


def service(stack: Stack, name: str, component: str, ports: dict[str, int],
            pod: str | None = None, headless: bool = False, **spec) -> dict:
    body = {"selector": selector(stack, pod or name),
            "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"}
                      for n, p in ports.items()], **spec}
    if headless:
        body["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(stack, name, component, pod),
            "spec": body}


def pdb(stack: Stack, name: str, component: str, replicas: int) -> list[dict]:
    """A PodDisruptionBudget only where there is more than one pod to keep."""
    if replicas < 2:
        return []
    return [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": meta(stack, name, component),
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(stack, name)}}}]


def config_map(stack: Stack, name: str, component: str, data: dict[str, str],
               pod: str | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(stack, name, component, pod),
            "data": data}


def service_account(stack: Stack, name: str, component: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(stack, name, component),
            "automountServiceAccountToken": False}


def job(stack: Stack, name: str, component: str, template: dict, backoff_limit: int,
        deadline_s: int, job_name: str | None = None) -> dict:
    """A run-to-completion Job (`job_name`: its metadata.name, when it is not `name`). No
    ttlSecondsAfterFinished: a Job that deletes itself is drift for Pulumi (and `kubectl apply`
    would recreate and rerun it); the finished Job stays as a record."""
    md = meta(stack, name, component)
    if job_name:
        md["name"] = job_name
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
            "spec": {"backoffLimit": backoff_limit, "activeDeadlineSeconds": deadline_s,
                     "template": template}}


WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")


def pod_template_of(doc: dict) -> dict:
    """The pod template of a workload (WORKLOADS): a CronJob's is in its Job template."""
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]


def cron_job(stack: Stack, name: str, component: str, schedule: str, template: dict,
             backoff_limit: int, deadline_s: int) -> dict:
    """A CronJob in UTC whose runs never overlap (a slow run delays the next) and that keeps
    the last three successful and failed Jobs as a record."""
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(stack, name, component),
            "spec": {"schedule": schedule, "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                     # a run missed by more than this (the controller down) is skipped
                     "startingDeadlineSeconds": 300,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                     "jobTemplate": {"spec": {"backoffLimit": backoff_limit,
                                              "activeDeadlineSeconds": deadline_s,
                                              "template": template}}}}


def hpa(stack: Stack, name: str, component: str, min_replicas: int, max_replicas: int,
        cpu_target: int) -> dict:
    """autoscaling/v2 with fast scale-up and a stabilised scale-down."""
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": meta(stack, name, component),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": named(stack, name)},
            "minReplicas": min_replicas, "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": cpu_target}}}],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                    {"type": "Pods", "value": 4, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min",
                              "policies": [{"type": "Percent", "value": 20, "periodSeconds": 60}]},
            },
        },
    }

"""Shared pieces of every synthesizer: security, probes, containers, pod specs; and,
re-exported, the small manifests and their labels (phasestack.synth.objects), Secrets as files
and variables and the templates (phasestack.synth.files) and the names, ports and images they
wire together (phasestack.synth.wiring).

Pure: returns plain dicts in Kubernetes' camelCase. Never imports pulumi.
"""

from __future__ import annotations

import hashlib

from phasestack.model import Resources, Stack
from phasestack.synth.files import (  # noqa: F401 - re-exported for the synthesizers
    SECRETS_DIR,
    render_template,
    secret_env,
    secret_file_env,
    secret_mount,
    secret_volume,
    templates_dir,
)
from phasestack.synth.objects import (  # noqa: F401 - re-exported for the synthesizers
    CONFIG_HASH,
    MANAGED_BY,
    PART_OF,
    config_map,
    cron_job,
    deployment,
    hpa,
    instance,
    job,
    labels,
    meta,
    pdb,
    pod_template,
    selector,
    service,
    service_account,
)
from phasestack.synth.wiring import (  # noqa: F401 - re-exported for the synthesizers
    ALERTMANAGER,
    ANY,
    API,
    API_HEADLESS,
    CLUSTER_DOMAIN,
    CNPG_APP_SECRET,
    CREDENTIALS,
    GRAFANA,
    GRAFANA_SECRET,
    MIGRATE,
    NAMESPACE_PEER,
    NGINX,
    NGINX_TLS,
    PG_SECRET,
    PGB_SECRET,
    PGBOUNCER,
    PORTS,
    POSTGRES,
    POSTGRES_HEADLESS,
    POSTGRES_REPLICA,
    POSTGRES_RO,
    POSTGRES_RW,
    PROMETHEUS,
    REDIS,
    REDIS_BOOTSTRAP,
    REDIS_HEADLESS,
    REDIS_SECRET,
    REDIS_SNAPSHOT,
    Flow,
    Ports,
    app_password,
    dns,
    named,
    pod_dns,
    postgres_primary,
    redis_password,
    secret_key,
    secret_ref,
    worker_name,
)


def resources(r: Resources) -> dict:
    return {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
            "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}}


# sidecars and exporters (the docker target's sidecar containers too)
SIDECAR = Resources(cpu_request="50m", cpu_limit="200m", memory_request="32Mi",
                    memory_limit="64Mi")


# a container streaming to or from object storage (the AWS CLI, Barman Cloud: gzip and boto3)
TRANSFER = Resources(cpu_request="100m", cpu_limit="1", memory_request="256Mi",
                     memory_limit="512Mi")


def small_resources() -> dict:
    """Sidecars and exporters."""
    return resources(SIDECAR)


def container_security() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "privileged": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def pod_security(uid: int) -> dict:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def http_probe(path: str, port: int | str, period: int = 10, delay: int = 5) -> dict:
    return {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay,
            "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": 3}


def tcp_probe(port: int | str, period: int = 10, delay: int = 5) -> dict:
    return {"tcpSocket": {"port": port}, "initialDelaySeconds": delay, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": 3}


def exec_probe(command: list[str], period: int = 10, delay: int = 5) -> dict:
    return {"exec": {"command": command}, "initialDelaySeconds": delay, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": 3}


def container(name: str, image: str, res: dict, ports: dict[str, int], liveness: dict,
              readiness: dict, **extra) -> dict:
    """A container with the secure defaults, resources and both probes always set."""
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": n, "containerPort": p, "protocol": "TCP"}
                      for n, p in ports.items()],
            "resources": res, "securityContext": container_security(),
            "livenessProbe": liveness, "readinessProbe": readiness, **extra}


def job_container(name: str, image: str, res: dict, **extra) -> dict:
    """A run-to-completion container (Job): the secure defaults and resources, no ports and no
    probes. Probes exist to restart or unroute long-running servers; a Job's container has
    nothing to probe, and its backoffLimit/activeDeadlineSeconds bound a hung or failed run."""
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "resources": res, "securityContext": container_security(), **extra}


def config_hash(*texts: str) -> dict[str, str]:
    """{CONFIG_HASH: 16 hex digits of SHA-256 over the texts}: a pod-template annotation that
    changes (and so rolls the pods) when any of the texts does. Only ever hash ConfigMap text:
    a hash of a Secret value in a manifest helps an offline guess of the password."""
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    return {CONFIG_HASH: digest}


# Graceful termination. A pod that is going away first leaves its Service's endpoints; until
# every proxy has noticed, it must keep serving. nginx re-resolves the API's headless Service
# every RESOLVER_VALID_S and CoreDNS answers from its cache for up to KUBE_DNS_TTL_S (the
# kubernetes plugin's default ttl), so an API pod sleeps that long before it gets SIGTERM.
RESOLVER_VALID_S = 10
KUBE_DNS_TTL_S = 5
API_DRAIN_S = RESOLVER_VALID_S + KUBE_DNS_TTL_S
# A cloud load balancer marks a target unhealthy after 2-3 failed checks 5 s apart.
NGINX_DRAIN_S = 15
# after its drain a pod gets SIGTERM and this long to finish what it holds
STOP_MARGIN_S = 5


def drain(stack: Stack, seconds: int) -> tuple[dict, int]:
    """(container `lifecycle`, pod terminationGracePeriodSeconds) for a server that drains for
    `seconds`, then finishes requests of up to the stack's request timeout. The preStop `sleep`
    action (Kubernetes 1.30+) needs no shell in the image, so it works for distroless apps."""
    return ({"preStop": {"sleep": {"seconds": seconds}}},
            seconds + stack.request_timeout_s + STOP_MARGIN_S)


ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def spread_constraints(stack: Stack, name: str, host_required: bool) -> list[dict]:
    """Zone spread preferred (a cluster in one zone, or without zone labels, still schedules);
    host spread required where a node's loss would take what the replicas exist for (a Redis
    node and the replica of its slots, both PgBouncer pods): maxSkew 1 places more pods than
    nodes evenly, and nodes whose taints the pods do not tolerate (a kind control plane) are
    not counted, so the rule blocks only when a node is full. Issue 15."""
    def rule(key: str, required: bool) -> dict:
        return {"maxSkew": 1, "topologyKey": key,
                "whenUnsatisfiable": "DoNotSchedule" if required else "ScheduleAnyway",
                **({"nodeTaintsPolicy": "Honor"} if required else {}),
                "labelSelector": {"matchLabels": selector(stack, name)}}
    return [rule(ZONE, False), rule(HOST, host_required)]


def away_from(stack: Stack, name: str) -> dict:
    """Pod anti-affinity, preferred: not on a node (weight 100) nor in a zone (50) that runs a
    pod named `name`. Not required: the scheduler applies a required term both ways, so three
    replicas on three nodes left the primary nowhere to run (e2e, ecobottle-phase3)."""
    term = {"labelSelector": {"matchLabels": selector(stack, name)}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {**term, "topologyKey": HOST}},
        {"weight": 50, "podAffinityTerm": {**term, "topologyKey": ZONE}}]}}


def pod_spec(stack: Stack, name: str, uid: int, containers: list[dict],
             service_account: str | None = None,  # noqa: F811 - the name, not the builder
             volumes: list[dict] | None = None,
             spread: bool = True, host_required: bool = False, **extra) -> dict:
    spec = {
        "automountServiceAccountToken": False,
        "securityContext": pod_security(uid),
        "containers": containers,
        **({"serviceAccountName": named(stack, service_account)} if service_account else {}),
        **({"volumes": volumes} if volumes else {}),
        **extra,
    }
    if spread:
        spec["topologySpreadConstraints"] = spread_constraints(stack, name, host_required)
    return spec


def empty_dir(name: str, medium: str | None = None) -> dict:
    return {"name": name, "emptyDir": {"medium": medium} if medium else {}}

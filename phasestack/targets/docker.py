"""Single-host (docker) rendering of an MVP stack: docker-compose.yml plus its config files.

Pure (no pulumi import). The config files are the synthesizers' own texts (nginx.conf with a
static upstream, redis.conf, postgresql.conf, prometheus.yml with compose service names), so
the docker target runs what the cluster runs. `services()` (phasestack.targets.docker_services)
is the one model both outputs use: `compose_files()` writes it as compose YAML (credentials as
${PHASESTACK_...} references that compose fills from the environment, never values) and
phasestack.components.docker_host turns it into Pulumi docker Containers (credentials as
secret Outputs).

Shape mirrors review 000 (000_f42598e3354b7376.txt), "docker-compose.prod.yml" (backend
replicas behind nginx, postgres and redis with named volumes), and review 002
(002_f99052a1f9a0162e.txt), "Recommended MVP Launch Configuration" (api replicas 2).
"""

from __future__ import annotations

import yaml

from phasestack.model import Resources, Stack, cpu_cores, memory_bytes
from phasestack.synth import nginx, postgres_config, prometheus, redis, secrets
from phasestack.synth.common import API, dns
from phasestack.targets.docker_services import (
    HEALTH,
    HTTP_HOST_PORT,
    Ref,
    Service,
    Value,
    check,
    parts,
    services,
)

__all__ = ["HEALTH", "HTTP_HOST_PORT", "Ref", "Service", "Value", "check", "compose_files",
           "config_files", "limits", "parts", "services"]


def config_files(stack: Stack) -> dict[str, str]:
    """File name -> text, each rendered by its synthesizer with compose endpoints."""
    check(stack)
    files = {
        "nginx.conf": nginx.nginx_conf(stack, upstreams=[f"{API}:{stack.api.port}"]),
        "redis.conf": redis.redis_conf(stack, dir=redis.DATA_DIR),
        "postgresql.conf": postgres_config.postgresql_conf(stack),
        "pg_hba.conf": postgres_config.pg_hba(stack),
        "init-roles.sql": postgres_config.init_sql(stack),
        "init-roles.sh": postgres_config.init_script(stack),
        "prometheus.yml": _prometheus_yml(stack),
    }
    if stack.monitoring.alerts:
        files[prometheus.RULES_FILE] = prometheus.alert_rules(stack)
    return files


def _prometheus_yml(stack: Stack) -> str:
    """The cluster prometheus.yml with each job's DNS name swapped for its compose service
    (docker's DNS answers one A record per replica, as the headless Service does)."""
    text = prometheus.prometheus_yml(stack)
    for job in prometheus.jobs(stack):
        cluster_name = dns(stack, job.service)
        if cluster_name not in text:
            raise ValueError(f"prometheus.yml has no target {cluster_name}")
        text = text.replace(cluster_name, job.pod)
    return text


def _compose_value(value: Value) -> str:
    out = []
    for part in parts(value):
        if isinstance(part, Ref):
            out.append(f"${{{part.env_var}:?set {part.env_var}}}")
        else:
            out.append(part.replace("$", "$$"))
    return "".join(out)


def _compose_service(svc: Service) -> dict:
    body: dict = {"image": svc.image, "restart": "unless-stopped"}
    if svc.command:
        body["command"] = [c.replace("$", "$$") for c in svc.command]
    if svc.environment:
        body["environment"] = {k: _compose_value(v) for k, v in svc.environment.items()}
    if svc.sidecar_of:
        body["network_mode"] = f"service:{svc.sidecar_of}"
        body["depends_on"] = [svc.sidecar_of]
    if svc.ports:
        body["ports"] = list(svc.ports)
    mounts = [f"./{name}:{path}:ro" for path, name in svc.files.items()]
    mounts += [f"{vol}:{path}" for vol, path in svc.volumes.items()]
    if mounts:
        body["volumes"] = mounts
    if svc.tmpfs:
        body["tmpfs"] = list(svc.tmpfs)
    if svc.user:
        body["user"] = svc.user
    if svc.read_only:
        body["read_only"] = True
    body["security_opt"] = ["no-new-privileges:true"]
    if svc.depends_on:
        body["depends_on"] = list(svc.depends_on)
    if svc.healthcheck:
        body["healthcheck"] = {"test": ["CMD-SHELL", svc.healthcheck.replace("$", "$$")],
                               **HEALTH}
    # the pod's limits and requests (review 001's compose block sets cpus and memory limits)
    body["deploy"] = {**({"replicas": svc.replicas} if svc.replicas != 1 else {}),
                      "resources": {"limits": limits(svc.resources),
                                    "reservations": limits(svc.resources, "request")}}
    return body


def limits(r: Resources, which: str = "limit") -> dict[str, str]:
    """Kubernetes quantities as compose's: cpus "0.25", memory "256M" (MiB)."""
    cpus = cpu_cores(getattr(r, f"cpu_{which}"))
    return {"cpus": f"{cpus:g}",
            "memory": f"{memory_bytes(getattr(r, f'memory_{which}')) // 2**20}M"}


def compose_files(stack: Stack) -> dict[str, str]:
    """Relative file name -> text: docker-compose.yml and every file it mounts."""
    files = config_files(stack)
    svcs = services(stack)
    doc = {
        "name": f"phasestack-{stack.namespace}",
        "services": {s.name: _compose_service(s) for s in svcs},
        "volumes": {vol: {} for s in svcs for vol in s.volumes},
    }
    header = ("# Rendered by phasestack for the single-host (docker) target; do not edit.\n"
              "# Credentials come from the environment: "
              + ", ".join(secrets.env_var(c) for c in _refs(svcs)) + ".\n")
    files["docker-compose.yml"] = header + yaml.safe_dump(doc, sort_keys=False, width=100)
    return files


def _refs(svcs: list[Service]) -> list[str]:
    found = {p.credential for s in svcs for v in s.environment.values() for p in parts(v)
             if isinstance(p, Ref)}
    return [c for c in secrets.CREDENTIALS if c in found]

"""The team's application on the API and worker pods (issue 14): its command, its own
variables and Secrets, and where its pods may run. Pure."""

from __future__ import annotations

from phasestack.model import Api, Process, Stack
from phasestack.synth import common as c

PODINFO = "ghcr.io/stefanprodan/podinfo"
TMP = "/tmp"
UID = 10001  # the user of the API's, workers' and migration's pods


def api_command(stack: Stack) -> dict:
    """The API's command and args: the stack's, else podinfo's (its CMD is ./podinfo); other
    images keep their own entrypoint."""
    a = stack.api
    out = {"args": list(a.args)} if a.args else {}
    if a.command:
        return {"command": list(a.command), **out}
    if not a.image.startswith(PODINFO + ":"):
        return out
    return {"command": ["./podinfo", f"--port={a.port}", "--level=info",
                        f"--data-path={TMP}/data"], **out}


def service_account(stack: Stack, name: str, component: str) -> dict:
    """A ServiceAccount of the app's pods, with the API's annotations (the same cloud role)."""
    account = c.service_account(stack, name, component)
    if stack.api.service_account_annotations:
        account["metadata"]["annotations"] = dict(stack.api.service_account_annotations)
    return account


def ports(api: Api) -> dict[str, int]:
    """The API container's ports: http, and metrics when api.metrics names another port."""
    out = {"http": api.port}
    if api.metrics.enabled and api.metrics_port != api.port:
        out["metrics"] = api.metrics_port
    return out


def own_env(process: Process) -> list[dict]:
    """The app's own variables, after the injected ones (so they may refer to them)."""
    return [*({"name": k, "value": v} for k, v in sorted(process.env.items())),
            *(c.secret_env(k, ref.secret, ref.key)
              for k, ref in sorted(process.secret_env.items()))]


def env_from(*processes: Process) -> dict:
    """envFrom of the processes' Secrets and ConfigMaps, in order (the API's, then a
    worker's: a later source wins a key both have)."""
    sources = [{**({"secretRef": {"name": e.secret}} if e.secret else
                   {"configMapRef": {"name": e.config_map}}),
                **({"prefix": e.prefix} if e.prefix else {})}
               for p in processes for e in p.env_from]
    return {"envFrom": sources} if sources else {}


def scheduling(stack: Stack) -> dict:
    """Pod-spec fields of the API's placement, for the API's and the workers' pods."""
    a = stack.api
    tolerations = [{k: v for k, v in {
        "key": t.key, "operator": t.operator, "value": t.value, "effect": t.effect,
        "tolerationSeconds": t.toleration_seconds}.items() if v is not None}
        for t in a.tolerations]
    return {k: v for k, v in {
        "imagePullSecrets": [{"name": n} for n in a.image_pull_secrets],
        "nodeSelector": dict(a.node_selector), "tolerations": tolerations,
        "affinity": dict(a.affinity)}.items() if v}

"""Step builders of phasestack.runbook for the stateless tiers (the API's HPA, nginx,
monitoring) and the final verify-and-converge step (pure)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.runbook_steps import APPLY, Ctx


def _hpa(stack: Stack) -> str:
    a = stack.api
    if not a.hpa.enabled:
        return f"{a.replicas} fixed pod(s)"
    return f"HPA {a.hpa.min_replicas}-{a.hpa.max_replicas} at {a.hpa.cpu_target}% CPU"


def handover(deployment: str, before: bool, after: bool) -> tuple[list[str], list[str]]:
    """(commands, risks) for a Deployment whose replica count passes to a new HPA.

    With the HPA on, phasestack leaves spec.replicas out so an apply never resets the HPA's
    count; removing a field kubectl once applied scales the Deployment to 1 for a moment
    (Kubernetes docs, "Migrating Deployments and StatefulSets to horizontal autoscaling")."""
    if before or not after:
        return [], []
    return ([f'kubectl apply edit-last-applied -n "$NS" deployment/{deployment}  '
             "# delete the spec.replicas line first (server-side apply: hand the field to "
             "the HPA's field manager instead)"],
            [f"Skipping the edit-last-applied step drops deployment/{deployment} to 1 pod "
             "until the HPA scales it back."])


def api_hpa(x: Ctx) -> list[dict]:
    if _hpa(x.a) == _hpa(x.b):
        return []
    b = x.b
    first, risk = handover("api", x.a.api.hpa.enabled, b.api.hpa.enabled)
    return [{"title": f"API: {_hpa(x.a)} -> {_hpa(b)}", "component": "api",
             "what": [f"The API runs {b.api.min_pods} to {b.api.max_pods} pods; at the top "
                      f"they open {b.api.max_pods} x {b.app.app_pool_per_pod} = "
                      f"{b.api.max_pods * b.app.app_pool_per_pod} database client "
                      "connections."],
             "commands": [*first, APPLY.format("api"), 'kubectl get hpa -n "$NS" api'],
             "risks": [*risk,
                       f"Raising the minimum starts {b.api.min_pods} pods at once: the nodes "
                       f"need {b.api.min_pods} x {b.api.resources.cpu_request} CPU and "
                       f"{b.api.resources.memory_request} memory requested.",
                       "The HPA needs metrics-server; without it the API stays at its "
                       "minimum."]}]


def nginx(x: Ctx) -> list[dict]:
    na, nb = x.a.nginx, x.b.nginx
    keys = ("replicas", "rate_limit_per_minute", "auth_rate_limit_per_minute", "burst",
            "client_max_body_size", "image")
    what = [f"{k}: {getattr(na, k)} -> {getattr(nb, k)}" for k in keys
            if getattr(na, k) != getattr(nb, k)]
    if (na.hpa.enabled, na.hpa.min_replicas, na.hpa.max_replicas) != (
            nb.hpa.enabled, nb.hpa.min_replicas, nb.hpa.max_replicas):
        what.append(f"HPA: {_nginx_hpa(x.a)} -> {_nginx_hpa(x.b)}")
    if not what:
        return []
    what.append(f"limit_req is per replica: the effective per-client limit goes from "
                f"{na.rate_limit_per_minute * na.max_pods}/min ({na.max_pods} pods) to "
                f"{nb.rate_limit_per_minute * nb.max_pods}/min ({nb.max_pods} pods).")
    first, risk = handover("nginx", na.hpa.enabled, nb.hpa.enabled)
    return [{"title": "nginx", "component": "load-balancer", "what": what,
             "commands": [*first, APPLY.format("load-balancer"),
                          'kubectl rollout status -n "$NS" deployment/nginx'],
             "risks": [*risk, "Pods roll on the config checksum; each drains for its preStop sleep "
                       "while the load balancer moves connections away."]}]


def _nginx_hpa(stack: Stack) -> str:
    h = stack.nginx.hpa
    return f"{h.min_replicas}-{h.max_replicas}" if h.enabled else "off"


def monitoring(x: Ctx) -> list[dict]:
    if not any(r.component == "monitoring" for r in x.diff.added + x.diff.removed) and not any(
            c.ref.component == "monitoring" for c in x.diff.changed):
        return []
    ma, mb = x.a.monitoring, x.b.monitoring
    flags = [f"{k}: {getattr(ma, k)} -> {getattr(mb, k)}" for k in ("grafana", "alerts")
             if getattr(ma, k) != getattr(mb, k)]
    return [{"title": "Monitoring", "component": "monitoring",
             "what": [*flags, "Scrape targets and alert rules follow the new components."],
             "commands": [APPLY.format("monitoring")], "risks": []}]


def verify(x: Ctx) -> list[dict]:
    cmds = ['kubectl get pods -n "$NS"', f"phasestack plan {x.name_b}",
            "pulumi up --stack <stack>   # converges; deletes what the new shape drops"]
    cmds += [f'kubectl delete -n "$NS" {r.kind.lower()}/{r.name}   # without Pulumi'
             for r in x.diff.removed]
    return [{"title": "Verify and converge", "component": "all",
             "what": [f"{len(x.diff.removed)} resource(s) of `{x.name_a}` are not in "
                      f"`{x.name_b}`; `kubectl apply` does not delete them."],
             "commands": cmds, "risks": []}]

"""Step builders of phasestack.transitions.runbook for the stateless tiers (the API's HPA, nginx,
monitoring) and the final verify-and-converge step (pure)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.plan.checks import pool_clients
from phasestack.synth import migration as migrating
from phasestack.synth.api import worker_name
from phasestack.transitions.steps import APPLY, APPLY_NAME, Ctx


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


def pool_figure(stack: Stack) -> str:
    """The planner's client-connection figure (capacity_data.pool_clients): API pods at their
    ceiling plus every queue worker pod, each with its app pool."""
    pods, said = pool_clients(stack)
    pool = stack.app.app_pool_per_pod
    return f"{said} x app_pool {pool} = {pods * pool} database client connections"


def _jobs(stack: Stack) -> set[str]:
    return {d["metadata"]["name"] for d in migrating.manifests(stack) if d["kind"] == "Job"}


MIGRATION_STEP = "Schema migration"


def migration_commands(x: Ctx) -> list[str]:
    """Apply the new migration Job and wait for it; [] when the release brings none."""
    if not _jobs(x.b) - _jobs(x.a):
        return []
    return [APPLY.format(migrating.COMPONENT),
            f'kubectl wait -n "$NS" --for=condition=complete '
            f"--timeout={x.b.api.migration.timeout_s}s job -l "
            f"app.kubernetes.io/component={migrating.COMPONENT}"]


def migration(x: Ctx) -> list[dict]:
    """A new migration Job (a new image or command) runs to completion before the API and its
    workers apply: old pods must keep working on the migrated schema (expand, then contract)."""
    new = _jobs(x.b) - _jobs(x.a)
    if not new:
        return []
    m = x.b.api.migration
    return [{"title": MIGRATION_STEP, "component": migrating.COMPONENT,
             "what": [f"job/{', job/'.join(sorted(new))} runs `{' '.join(m.command + m.args)}` "
                      "with the API image against the primary (past PgBouncer), before any "
                      "API or worker pod changes."],
             "commands": migration_commands(x),
             "risks": ["The running (old) API pods serve on the migrated schema until they are "
                       "replaced: a migration must only add (columns, tables, indexes built "
                       "CONCURRENTLY), and drop what the old code reads one release later.",
                       f"A failed or hung run fails the Job after {m.backoff_limit} retries or "
                       f"{m.timeout_s} s (`pulumi up` fails with it) and the API is not "
                       "updated: read `kubectl logs -n \"$NS\" job/<name>`, fix, release "
                       "again."]}]


def api_hpa(x: Ctx) -> list[dict]:
    if _hpa(x.a) == _hpa(x.b):
        return []
    a, b = x.a.api, x.b.api
    first, risk = handover("api", a.hpa.enabled, b.hpa.enabled)
    pods = (f"{b.min_pods} pods" if b.min_pods == b.max_pods
            else f"{b.min_pods} to {b.max_pods} pods")
    risks = [*risk]
    if b.min_pods > a.min_pods:
        risks.append(f"Raising the minimum from {a.min_pods} starts {b.min_pods - a.min_pods} "
                     f"more pod(s) at once: the nodes need {b.min_pods} x "
                     f"{b.resources.cpu_request} CPU and {b.resources.memory_request} memory "
                     "requested.")
    if b.hpa.enabled:
        risks.append("The HPA needs metrics-server; without it the API stays at its minimum.")
    return [{"title": f"API: {_hpa(x.a)} -> {_hpa(x.b)}", "component": "api",
             "what": [f"The API runs {pods}; at the top they open {pool_figure(x.b)}."],
             "commands": [*first, APPLY.format("api"),
                          *(['kubectl get hpa -n "$NS" api'] if b.hpa.enabled else [])],
             "risks": risks}]


def workers(x: Ctx) -> list[dict]:
    """Queue workers added, removed or resized: each opens an app pool (issue 12: workers
    appeared in no step and the connection figure left them out)."""
    wa = {worker_name(w): w.replicas for w in x.a.api.workers}
    wb = {worker_name(w): w.replicas for w in x.b.api.workers}
    if wa == wb:
        return []
    what = [f"{n}: {_count(wa.get(n))} -> {_count(wb.get(n))}"
            for n in sorted(wa.keys() | wb.keys()) if wa.get(n) != wb.get(n)]
    what.append(f"With the API at its ceiling the pools open {pool_figure(x.b)}.")
    gone = sorted(wa.keys() - wb.keys())
    return [{"title": "Queue workers", "component": "worker", "what": what,
             "commands": [*(APPLY_NAME.format(n) for n in sorted(wb) if wa.get(n) != wb[n]),
                          *(f'kubectl delete -n "$NS" deployment/{n}   # without Pulumi'
                            for n in gone)],
             "risks": [f"Jobs the removed {', '.join(gone)} consumed wait in their queue "
                       "until another consumer takes them."] if gone else []}]


def _count(replicas: int | None) -> str:
    return "none" if replicas is None else f"{replicas} pod(s)"


def nginx(x: Ctx) -> list[dict]:
    na, nb = x.a.nginx, x.b.nginx
    if na.enabled != nb.enabled:
        return [_entry(x)]
    if not nb.enabled:
        return []
    keys = ("rate_limit_per_minute", "auth_rate_limit_per_minute", "burst",
            "client_max_body_size", "image")
    what = [f"{k}: {getattr(na, k)} -> {getattr(nb, k)}" for k in keys
            if getattr(na, k) != getattr(nb, k)]
    if _nginx_pods(x.a) != _nginx_pods(x.b):
        what.insert(0, f"pods: {_nginx_pods(x.a)} -> {_nginx_pods(x.b)}")
    if not what:
        return []
    what.append(f"limit_req is per replica: the effective per-client limit goes from "
                f"{na.rate_limit_per_minute * na.max_pods}/min ({na.max_pods} pods) to "
                f"{nb.rate_limit_per_minute * nb.max_pods}/min ({nb.max_pods} pods).")
    first, risk = handover("nginx", na.hpa.enabled, nb.hpa.enabled)
    return [{"title": "nginx", "component": "nginx", "what": what,
             "commands": [*first, APPLY.format("nginx"),
                          'kubectl rollout status -n "$NS" deployment/nginx'],
             "risks": [*risk, "Pods roll on the config checksum; each drains for its preStop sleep "
                       "while the load balancer moves connections away."]}]


def _entry(x: Ctx) -> dict:
    """nginx added or removed: the entry moves between nginx's Service and the API's."""
    port = x.b.api.port
    if x.b.nginx.enabled:
        return {"title": "nginx: none -> " + _nginx_pods(x.b), "component": "nginx",
                "what": ["nginx becomes the entry, with its rate limits; the API admits only "
                         "nginx from now on."],
                "commands": [APPLY.format("nginx"),
                             'kubectl rollout status -n "$NS" deployment/nginx',
                             APPLY.format("network")],
                "risks": [f"Clients that reach api:{port} directly (your Ingress, a "
                          "port-forward) are refused once the policies apply: point them at "
                          "nginx first."]}
    return {"title": f"nginx: {_nginx_pods(x.a)} -> none", "component": "nginx",
            "what": [f"The API's Service (api:{port}) becomes the entry: nginx's rate limits, "
                     "its external address and its Ingress go."],
            "commands": [APPLY.format("network")],
            "risks": ["Move DNS or your Ingress to the api Service before nginx is deleted: "
                      "traffic to nginx's address fails after it."]}


def _nginx_pods(stack: Stack) -> str:
    n = stack.nginx
    return f"HPA {n.hpa.min_replicas}-{n.hpa.max_replicas}" if n.hpa.enabled else \
        f"{n.replicas} fixed"


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

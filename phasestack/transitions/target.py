"""The runbook of a move between a single Docker host and Kubernetes (pure): nothing is applied
over the old platform; the new one is built next to it, PostgreSQL moves by pg_dump and
pg_restore, Redis is drained rather than copied, and traffic is cut over last. Commands carry no
credential: pg_dump and pg_restore run as the postgres role's local peer login on each side.
"""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth.common import NGINX, POSTGRES, REDIS
from phasestack.transitions.steps import Ctx

HOST = "docker"


def _host(stack: Stack, service: str) -> str:
    """The host's container of a service (components/docker_host.py names them <ns>-<service>;
    with the compose rendering use `docker compose exec <service>` instead)."""
    return f"{stack.namespace}-{service}"


def on_postgres(stack: Stack, command: str, stdin: bool = False) -> str:
    """`command` inside the stack's PostgreSQL as the OS user postgres (peer login, no
    password): the host's container or the primary's pod."""
    i = "-i " if stdin else ""
    if stack.target == HOST:
        return f"docker exec {i}-u postgres {_host(stack, POSTGRES)} {command}"
    if stack.postgres.engine == "cloudnativepg":  # the primary moves on failover
        pod = ('$(kubectl get pod -n "$NS" -o name '
               f'-l cnpg.io/cluster={POSTGRES},cnpg.io/instanceRole=primary)')
        return f'kubectl exec {i}-n "$NS" {pod} -c postgres -- {command}'
    return f'kubectl exec {i}-n "$NS" {POSTGRES}-0 -c postgres -- {command}'


def dump_from(stack: Stack) -> str:
    db = stack.postgres.database
    return f"{on_postgres(stack, f'pg_dump -U postgres -Fc {db}')} > {db}.dump"


def restore_into(stack: Stack) -> list[str]:
    """pg_restore into the new side as the app's objects. The dump is copied into the server's
    /tmp first: its extensions (pg_stat_statements) are left out, the new side's init script
    made them, and restoring their comments as the app would fail ("must be owner")."""
    pg = stack.postgres
    f = f"/tmp/{pg.database}.dump"
    restore = (f"sh -c 'cat > {f} && pg_restore -l {f} | grep -v \" EXTENSION \" > {f}.list "
               f"&& pg_restore -U postgres -d {pg.database} --no-owner --role={pg.app_user} "
               f"--exit-on-error -L {f}.list {f}; s=$?; rm -f {f} {f}.list; exit $s'")
    count = f'psql -U postgres -Atc "SELECT count(*) FROM pg_stat_user_tables" {pg.database}'
    return [f"{on_postgres(stack, restore, stdin=True)} < {pg.database}.dump",
            on_postgres(stack, count)]


def stop_writes(stack: Stack) -> list[str]:
    if stack.target == HOST:
        ns = stack.namespace
        return [f"docker stop {_host(stack, NGINX)}",
                f'docker ps -q --filter "name=^{ns}-api" | xargs -r docker stop']
    return ['kubectl delete -n "$NS" hpa --all   # the HPAs would scale the API back up',
            'kubectl scale -n "$NS" deployment/nginx deployment/api --replicas=0']


def _deploy(stack: Stack, name: str) -> list[str]:
    if stack.target == HOST:
        return [f"pulumi up --stack {name}   # or: docker compose up -d (phasestack render "
                f"{name} --format compose)",
                on_postgres(stack, "pg_isready")]
    return [f"pulumi up --stack {name}   # or: kubectl apply -f out/next/",
            f'kubectl rollout status -n "$NS" statefulset/{POSTGRES} --timeout=10m',
            f'kubectl rollout status -n "$NS" statefulset/{REDIS} --timeout=10m']


def _endpoint(stack: Stack) -> str:
    if stack.target == HOST:
        return "curl -fsS http://<the host's address>/healthz"
    return (f'kubectl get svc -n "$NS" {NGINX} -o '
            "jsonpath='{.status.loadBalancer.ingress[0]}'   # then curl -fsS http://<it>/healthz")


def target(x: Ctx) -> list[dict]:
    """Steps for a target change (a docker <-> kubernetes move); none otherwise."""
    a, b = x.a, x.b
    if a.target == b.target:
        return []
    move = f"{a.target} -> {b.target}"
    return [
        {"title": f"Build the {b.target} side next to the {a.target} one", "component": "all",
         "what": [f"target: {move}. Nothing is applied over `{x.name_a}`: `{x.name_b}` is "
                  "deployed empty beside it, data moves by dump and restore, and traffic moves "
                  "last; until then the old side keeps serving and is the way back.",
                  "Its credentials are new (pg_dump carries no roles or passwords)."],
         "commands": _deploy(b, x.name_b), "risks": []},
        {"title": f"Stop writes on `{x.name_a}` (downtime starts)", "component": "api",
         "what": ["Stop the load balancer first so no new work arrives, let the queue workers "
                  "finish what is queued (Redis is not copied), then stop the API."],
         "commands": stop_writes(a),
         "risks": ["Downtime lasts until the cutover: roughly the pg_dump and pg_restore "
                   "time, which grows with the database; rehearse it on a copy."]},
        {"title": "Move PostgreSQL: pg_dump, pg_restore", "component": "postgres",
         "moves_data": True,
         "what": [f"Dump `{a.postgres.database}` from `{x.name_a}` and restore it into "
                  f"`{x.name_b}` as `{b.postgres.app_user}`'s objects; compare the table "
                  "counts of both sides before going on."],
         "commands": [dump_from(a), *restore_into(b)],
         "risks": ["The dump is a copy of the data on the operator's machine: keep it "
                   "encrypted and delete it after the move.",
                   "Writes accepted after the dump are lost: the API stays stopped from the "
                   "dump to the cutover."]},
        {"title": "Redis: drained, not copied", "component": "redis",
         "what": ["Sessions and rate-limit counters start empty on the new side (users sign "
                  "in again); queued jobs must be finished before the API stops (previous "
                  "step), because an unfinished job stays on the old side."],
         "commands": [], "risks": ["Jobs still queued on the old side are not run."]},
        {"title": f"Cut over to `{x.name_b}`", "component": "nginx",
         "what": ["Point DNS (or the upstream load balancer) at the new endpoint, check it, "
                  "and keep the old side stopped but intact until the new one has served a "
                  "full day."],
         "commands": [_endpoint(b)],
         "risks": ["A rollback after the cutover loses what the new side wrote since: it "
                   "needs the same dump and restore the other way."]},
    ]

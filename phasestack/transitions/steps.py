"""Step builders of the runbook (transitions.runbook) shared by every transition: the transition
context, the command templates, keeping the live credentials, preparing and immutable fields.
Each builder takes the context and returns zero or more steps (dicts of Step fields). Pure;
commands never carry a credential."""

from __future__ import annotations

from dataclasses import dataclass

from phasestack.model import Stack
from phasestack.synth import secrets
from phasestack.synth.secrets import CREDENTIALS, env_var
from phasestack.transitions import diff as diffing

SLOTS = 16384  # Redis Cluster hash slots
APPLY = 'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component={}'
APPLY_NAME = 'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name={}'
PSQL = 'kubectl exec -n "$NS" postgres-0 -c postgres -- psql -U postgres -Atc "{}"'
# inside a Redis pod; its redis-cli reads REDISCLI_AUTH, already in its environment (the Secret)
POD = 'kubectl exec -n "$NS" redis-0 -c redis -- '
RCLI = f"{POD}redis-cli"
# copy the snapshot server's keys into the cluster redis-0 is in (MIGRATE, in the right slots)
IMPORT = (f"{RCLI} --cluster import 127.0.0.1:6379 --cluster-from 127.0.0.1:6390 "
          "--cluster-copy --cluster-replace")


def snapshot_server(dbfilename: str, password: bool = False) -> list[str]:
    """Serve /data/<dbfilename> (an RDB) from a temporary standalone server on 127.0.0.1:6390
    inside redis-0, and wait until it answers. `password`: it asks for the admin password (a
    replica's handshake sends masterauth, which a server without one refuses)."""
    start = ("redis-server --port 6390 --bind 127.0.0.1 --dir /data --dbfilename "
             f"{dbfilename} --appendonly no --cluster-enabled no --daemonize yes")
    start = f"{POD}sh -c 'exec {start} --requirepass \"$REDISCLI_AUTH\"'" if password \
        else POD + start
    cli = "redis-cli -p 6390" if password else "env -u REDISCLI_AUTH redis-cli -p 6390"
    # --daemonize returns before the server listens (Valkey 9 loads the snapshot first)
    return [start, f"{POD}sh -c 'for i in $(seq 60); do {cli} ping 2>/dev/null | grep -q PONG "
                   "&& exit 0; sleep 1; done; echo the snapshot server did not start >&2; "
                   "exit 1'"]


def snapshot_server_stop(password: bool = False) -> str:
    return POD + ("redis-cli -p 6390" if password else "env -u REDISCLI_AUTH redis-cli -p 6390") \
        + " SHUTDOWN NOSAVE"


IP = "ip() { kubectl get pod -n \"$NS\" \"$1\" -o jsonpath='{.status.podIP}'; }"
# a live Secret's key into the variable `phasestack render` reads; the value is never printed
EXPORT = ('export {var}="$(kubectl get secret -n "$NS" {secret} '
          "-o jsonpath='{{.data.{key}}}' | base64 -d)\"")


@dataclass(frozen=True)
class Ctx:
    a: Stack
    b: Stack
    name_a: str
    name_b: str
    diff: diffing.Diff

    def changed(self, kind: str, name: str) -> list[diffing.FieldChange]:
        return next((c.fields for c in self.diff.changed
                     if (c.ref.kind, c.ref.name) == (kind, name)), [])


def live_credentials(stack: Stack) -> list[str]:
    """Credentials whose Secret the running environment (shaped like `stack`) already holds."""
    present = {d["metadata"]["name"] for d in secrets.manifests(stack, diffing.PLACEHOLDER_VALUES)}
    return [c for c, (secret, _) in CREDENTIALS.items() if secret in present]


def credentials(x: Ctx) -> list[dict]:
    if x.b.credentials == "existing":
        need = secrets.required(x.b)
        return [{"title": "Credentials: the team's Secrets", "component": "credentials",
                 "what": ["credentials: existing: nothing secret is rendered. Before applying, "
                          "the namespace holds " + "; ".join(
                              f"{name} ({', '.join(keys)})" for name, keys in need.items())
                          + " (SOPS, External Secrets, Vault)."],
                 "commands": [f'kubectl get secret -n "$NS" {" ".join(need)}'],
                 "risks": ["A missing Secret or key keeps the pods that read it from starting "
                           "(CreateContainerConfigError)."]}]
    live = live_credentials(x.a)
    names = [env_var(c) for c in live]
    return [{
        "title": "Keep the live credentials", "component": "credentials",
        "what": ["`phasestack render` takes each password from PHASESTACK_<NAME>, else from the "
                 "secrets.yaml an earlier render left in the same --out directory, else makes a "
                 "new one: Secrets rendered fresh and applied over the live ones would change "
                 "every password and break every login.",
                 "Before rendering, export the live values from the cluster's Secrets (the "
                 "commands print nothing), or render into the --out directory that holds the "
                 "previous render's secrets.yaml.",
                 "Under Pulumi nothing is needed: the credentials persist in the stack state "
                 "(random passwords or `pulumi config set --secret`)."],
        "commands": [EXPORT.format(var=env_var(c), secret=CREDENTIALS[c][0],
                                   key=CREDENTIALS[c][1]) for c in live]
                    + [": " + " ".join(f'"${{{n}:?is empty}}"' for n in names)] if live else [],
        "risks": ["An empty export (wrong $NS, no access to Secrets) makes render generate a "
                  "new password: the last command stops with the variable's name, never its "
                  "value.",
                  "Never apply secrets.yaml as a whole: only Secrets the new shape adds or "
                  "changes are applied (Prepare)."],
    }]


def prepare(x: Ctx) -> list[dict]:
    # Secrets are applied only when the new shape adds one or changes its keys
    new = [r.name for r in x.diff.added if r.kind == "Secret"]
    new += [c.ref.name for c in x.diff.changed if c.ref.kind == "Secret"]
    what = [f"Give the environment's stack file the shape of `{x.name_b}` (phase "
            f"{x.b.phase}) and render it; apply component by component as below, then let "
            "`pulumi up` converge (server-side apply adopts what kubectl applied).",
            f"The diff: {diffing.summary(x.diff)}."]
    if new:
        what.append(f"New or changed Secrets: {', '.join(new)}; the others are left alone.")
    pg = x.a.postgres
    ext = pg.external
    # the backup of the running database: in-cluster through postgres-0, a managed one from
    # its endpoint (or the provider's snapshot)
    backup = (f"pg_dump -h {ext.host} -p {ext.port} -U {pg.app_user} -Fc -W {pg.database} > "
              f"before-{x.name_b}.dump   # or the provider's snapshot" if ext else
              'kubectl exec -n "$NS" postgres-0 -c postgres -- pg_dump -U postgres -Fc '
              f"{pg.database} > before-{x.name_b}.dump")
    return [{
        "title": "Prepare: plan, render, back up", "component": "all",
        "what": what,
        "commands": [f"phasestack plan {x.name_b}", "phasestack render <stack> --out out/next",
                     backup, *(APPLY_NAME.format(name) for name in new),
                     APPLY.format("network")],
        "risks": ["NetworkPolicies deny by default: apply the new ones (component network) "
                  "before new pods need them, or their first connections are dropped."],
    }]


# fields the API server refuses to update in place (kind -> path prefixes)
IMMUTABLE = {"StatefulSet": ("spec.podManagementPolicy", "spec.serviceName", "spec.selector",
                             "spec.volumeClaimTemplates"),
             "Deployment": ("spec.selector",), "Job": ("spec.template", "spec.selector"),
             "Service": ("spec.clusterIP",), "PersistentVolumeClaim": ("spec.accessModes",
                                                                       "spec.storageClassName")}


def immutable(x: Ctx) -> list[dict]:
    hits = [(c.ref, fc.path) for c in x.diff.changed for fc in c.fields
            if fc.path.startswith(IMMUTABLE.get(c.ref.kind, ("-",)))]
    if not hits:
        return []
    refs = list(dict.fromkeys(ref for ref, _ in hits))
    cascade = {"StatefulSet": " --cascade=orphan", "Deployment": " --cascade=orphan"}
    return [{
        "title": "Objects whose immutable fields change", "component": "all",
        "what": [f"{ref.label}: {path}" for ref, path in hits] + [
            "`kubectl apply` rejects these; Pulumi replaces them. Before a component's apply "
            "below, delete its object (StatefulSets and Deployments with --cascade=orphan: "
            "their pods and volumes stay, and the new object adopts them)."],
        "commands": [f'kubectl delete -n "$NS" {r.kind.lower()}/{r.name}{cascade.get(r.kind, "")}'
                     for r in refs],
        "risks": ["Between the delete and the apply nothing reconciles those pods: apply right "
                  "after."],
    }]



"""Step builders of the runbook for CloudNativePG (pure): the move from the StatefulSet engine
(the Cluster copies the old primary when it is created, or, without import_from_statefulset,
a new Cluster beside it and the data by pg_dump and pg_restore, as a target move does, both in
a write stop) and a Cluster's own changes, which its operator carries out."""

from __future__ import annotations

from phasestack.synth import cnpg
from phasestack.synth.common import POSTGRES
from phasestack.transitions.steps import APPLY, Ctx
from phasestack.transitions.target import dump_from, on_postgres, restore_into, stop_writes

WAIT = 'kubectl wait -n "$NS" cluster/{} --for=condition=Ready --timeout={}'
STATUS = 'kubectl get cluster -n "$NS" {} -o wide'


COUNT = 'psql -U postgres -Atc "SELECT count(*) FROM pg_stat_user_tables" {}'


def _copy(x: Ctx) -> list[dict]:
    """import_from_statefulset (the phase2 and phase3 presets): the Cluster copies the old
    primary itself when it is created; `pulumi up` moves PgBouncer and the API once it is
    ready."""
    a, b = x.a, x.b
    db = b.postgres.database
    return [
        {"title": "Stop writes (downtime starts)", "component": "api",
         "what": ["engine: statefulset -> cloudnativepg. The Cluster's database is created as "
                  "a pg_dump copy of the running primary (import_from_statefulset); commits "
                  "made while it copies would stay on the old primary only."],
         "commands": stop_writes(a), "risks": ["Downtime lasts until the API is back."]},
        {"title": "PostgreSQL: a CloudNativePG Cluster, copied from the StatefulSet primary",
         "component": "postgres", "moves_data": True,
         "what": ["The operator creates the Cluster (pods postgres-1.., Services postgres-rw "
                  "and postgres-ro) and imports the app's database from the primary, which "
                  "keeps running beside it; compare the table counts of both sides.",
                  "Under Pulumi this and the next step are one `pulumi up`: it waits for the "
                  "Cluster to be ready before it moves PgBouncer and the API."],
         "commands": [APPLY.format("postgres") + " --server-side",
                      WAIT.format(POSTGRES, "60m"), STATUS.format(POSTGRES),
                      on_postgres(a, COUNT.format(db)), on_postgres(b, COUNT.format(db))],
         "risks": ["The copy reads the whole database from the primary: minutes per GiB."]},
        {"title": "Re-point PgBouncer and the API at postgres-rw", "component": "api",
         "what": ["Apply the rest: PgBouncer's databases and the API's URLs name postgres-rw "
                  "and postgres-ro; the API comes back (writes resume)."],
         "commands": [*_own_ro(a), "kubectl apply --server-side -n \"$NS\" -f out/next/",
                      'kubectl rollout status -n "$NS" deployment/api'],
         "risks": ["The old primary stays, with its data as of the copy, until the stack file "
                   "sets postgres.cloudnativepg.import_from_statefulset: false; then `pulumi "
                   "up` deletes its StatefulSet and Services, and its claim data-postgres-0 "
                   "stays until deleted. Do that once the Cluster has served a full day and "
                   'has a base backup (kubectl get backups -n "$NS").']},
    ]


def _move(x: Ctx) -> list[dict]:
    a, b = x.a, x.b
    if b.postgres.cloudnativepg.imports:
        return _copy(x)
    return [
        {"title": "PostgreSQL: a CloudNativePG Cluster beside the StatefulSet",
         "component": "postgres",
         "what": ["engine: statefulset -> cloudnativepg. The Cluster starts empty next to the "
                  "running primary (its pods are postgres-1.., its Services postgres-rw and "
                  "postgres-ro); nothing reads from it until the cutover.",
                  "Apply it without the API and PgBouncer changes, which would move the URLs "
                  "to postgres-rw before the data is there."],
         "commands": [APPLY.format("postgres") + " --server-side",
                      WAIT.format(POSTGRES, "30m"), STATUS.format(POSTGRES)],
         "risks": ["Until the re-point below, the Cluster's postgres-ro is the StatefulSet "
                   "engine's Service of that name (the operator waits for the name)."
                   if a.postgres.read_replicas else
                   "The Cluster's disk fills like the old one's: its volumes are "
                   f"{b.postgres.storage_gb} GiB each."]},
        {"title": "Stop writes (downtime starts)", "component": "api",
         "what": ["pg_dump sees the database as of its start: nothing may write after it."],
         "commands": stop_writes(a), "risks": ["Downtime lasts until the API is back."]},
        {"title": "Move the data: pg_dump from the StatefulSet, pg_restore into the Cluster",
         "component": "postgres", "moves_data": True,
         "what": [f"`{a.postgres.database}` restored as `{b.postgres.app_user}`'s objects into "
                  "the Cluster's primary; compare the table counts of both sides."],
         "commands": [dump_from(a), *restore_into(b)],
         "risks": ["The dump is a copy of the data on the operator's machine: keep it "
                   "encrypted and delete it after the move."]},
        {"title": "Re-point PgBouncer and the API at postgres-rw", "component": "api",
         "what": ["Apply the rest: PgBouncer's databases and the API's URLs name postgres-rw "
                  "and postgres-ro; the API's replicas come back (writes resume)."],
         "commands": [*_own_ro(a),
                      "kubectl apply --server-side -n \"$NS\" -f out/next/",
                      'kubectl rollout status -n "$NS" deployment/api'],
         "risks": ["`pulumi up` (or the deletes at the end) removes the old StatefulSets and "
                   "Services; the primary's claim data-postgres-0 stays (a StatefulSet's "
                   "claims outlive it): the way back, as of the dump. Delete it once the "
                   "Cluster has served a full day and has a base backup (kubectl get backups "
                   '-n "$NS").']},
    ]


def _own_ro(a) -> list[str]:
    """The StatefulSet engine's postgres-ro (its read replicas, frozen at the dump) must go
    before PgBouncer and the API read through that name; the operator then makes its own."""
    if not a.postgres.read_replicas:
        return []
    return ['kubectl delete service -n "$NS" postgres-ro',
            "until kubectl get service -n \"$NS\" postgres-ro -o jsonpath='{.spec.selector}' "
            "| grep -q cnpg.io/cluster; do sleep 2; done   # the operator's, on the standbys"]


def _changes(x: Ctx) -> list[dict]:
    ra, rb = x.a.postgres.read_replicas, x.b.postgres.read_replicas
    steps = []
    if ra != rb:
        joining = rb > ra
        steps.append({
            "title": f"PostgreSQL (CloudNativePG): instances {1 + ra} -> {1 + rb}",
            "component": "postgres", "moves_data": joining,
            "what": ["The operator " + ("clones each new standby from the primary "
                                        "(pg_basebackup) before it joins postgres-ro"
                                        if joining else
                                        "removes the highest-numbered standbys and their "
                                        "claims")
                     + "; failover takes any standby that streams."],
            "commands": [APPLY.format("postgres") + " --server-side",
                         WAIT.format(POSTGRES, "30m"), STATUS.format(POSTGRES)],
            "risks": ["A clone copies the whole database from the primary: disk and network "
                      "load on it." if joining else
                      "Fewer standbys carry the same reads; with none left no failover."],
        })
    settings = [fc.path for fc in x.changed("Cluster", POSTGRES)
                if fc.path != "spec.instances"]
    if settings:
        steps.append({
            "title": "PostgreSQL (CloudNativePG): the Cluster's settings",
            "component": "postgres",
            "what": [f"{', '.join(settings)}: the operator applies them; a setting that "
                     "needs a restart rolls the standbys first, then switches the primary over "
                     "(primaryUpdateMethod: switchover) instead of restarting it."],
            "commands": [APPLY.format("postgres") + " --server-side",
                         WAIT.format(POSTGRES, "30m"),
                         on_postgres(x.b, 'psql -U postgres -Atc "SELECT name, setting '
                                          'FROM pg_settings WHERE pending_restart"')],
            "risks": ["A switchover fails the writes in flight for a few seconds"
                      + (f"; PgBouncer holds new ones for query_wait_timeout "
                         f"({x.b.pgbouncer.query_wait_timeout_s} s)." if x.b.pgbouncer.enabled
                         else ".")],
        })
    return steps


def postgres(x: Ctx) -> list[dict]:
    on_a, on_b = cnpg.enabled(x.a), cnpg.enabled(x.b)
    if on_b and not on_a and x.a.runs(POSTGRES):
        return _move(x)
    if on_a and on_b:
        return _changes(x)
    return []  # the StatefulSet engine (transitions.postgres) or a managed one

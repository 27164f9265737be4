"""Point-in-time recovery of a CloudNativePG stack (issue 16): the runbook `phasestack restore`
prints. Pure.

A restore is a new Cluster bootstrapped from the stack's object store
(postgres.cloudnativepg.recover_from): the operator fetches the newest base backup before the
target time and replays the archived WAL up to it (barman-cloud-restore and
barman-cloud-wal-restore, the commands tests/integration/test_postgres_pitr.py runs on real
servers), then archives under a new server name, so two timelines never share one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from phasestack.errors import PhasestackError
from phasestack.model import Stack
from phasestack.synth import cnpg
from phasestack.synth.common import POSTGRES, named

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")


def target_time(text: str) -> str:
    """An RFC 3339 time with its offset, as UTC (what recoveryTarget.targetTime takes)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise PhasestackError(f"--time {text!r}: give an RFC 3339 time with its offset, e.g. "
                              "2026-12-04T09:30:00Z")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restored(stack: Stack, time: str) -> Stack:
    """The stack with its Cluster recovered from its own archive up to `time`, archiving
    under a new server name."""
    pg = stack.postgres
    if pg.external or pg.backup is None:
        raise PhasestackError("restore needs a postgres.backup section (the archive to "
                              "restore from)")
    new = f"{pg.backup.server_name}-r{time[:16].replace('-', '').replace(':', '')}".lower()
    source = {"server_name": pg.backup.server_name, "target_time": time}
    where = ({"cloudnativepg": {**pg.cloudnativepg.model_dump(), "recover_from": source}}
             if cnpg.enabled(stack) else {"recover_from": source})
    postgres = type(pg).model_validate({
        **pg.model_dump(), "backup": {**pg.backup.model_dump(), "server_name": new}, **where})
    return stack.model_copy(update={"postgres": postgres})


def default_into(stack: Stack) -> str:
    return f"{named(stack, POSTGRES)}-restore"


def cluster(stack: Stack, time: str, into: str | None = None) -> dict:
    if not cnpg.enabled(stack):
        raise PhasestackError("--into names a CloudNativePG Cluster to restore into; the "
                              "statefulset engine restores into a new stack (`phasestack "
                              "restore` without --into prints how)")
    into = into or default_into(stack)
    if not NAME.match(into):
        raise PhasestackError(f"--into {into!r}: a Cluster name (lowercase letters, digits "
                              "and -, at most 50 characters)")
    doc = cnpg.cluster(restored(stack, time))
    return {**doc, "metadata": {**doc["metadata"], "name": into}}


def primary_pod(namespace: str, cluster_name: str) -> str:
    """Shell for the pod a Cluster's primary runs in now (it moves on failover)."""
    return (f"$(kubectl get pod -n {namespace} -o name -l cnpg.io/cluster={cluster_name},"
            "cnpg.io/instanceRole=primary)")


def statefulset_runbook(stack: Stack, name: str, time: str) -> str:
    """The StatefulSet engine's way back: a primary whose volume is empty and whose stack sets
    postgres.recover_from is filled from the archive by its init container."""
    r = restored(stack, time).postgres
    ns, primary, db = stack.namespace, named(stack, POSTGRES), stack.postgres.database
    pod = f"{primary}-0"
    redis = (f"#\n# Redis: `phasestack restore {name} --time {time} --redis` prints its script.\n"
             if stack.runs("redis") and stack.redis.backup else "")
    return f"""\
# Restore {name}'s PostgreSQL (StatefulSet engine) to {time}
# (archive {r.recover_from.server_name} in {r.backup.store.destination}).
# The change both ways take, in a stack file:
#   postgres:
#     backup:
#       server_name: {r.backup.server_name}    # the restored server's own archive
#     recover_from:
#       server_name: {r.recover_from.server_name}
#       target_time: "{time}"
# With it the primary's init container fills an EMPTY volume from the archive (the newest base
# backup that ended before the target, then the archived WAL replayed up to it through the
# backup sidecar), and PostgreSQL promotes and archives under the new name. A volume that
# holds a database is left alone.
#
# A. Beside the running database (a dropped table, a bad migration): a copy of this stack file
#    with the change and its own namespace, then `pulumi up` on it; copy back what was lost,
#    e.g. kubectl exec -n NEW {pod} -c postgres -- pg_dump -d {db} -t TABLE \\
#           | kubectl exec -i -n {ns} {pod} -c postgres -- psql -d {db}
#    then `pulumi destroy` it.
#
# B. In place of a lost or broken volume: the change in this stack file, `pulumi up`, then
#    kubectl scale -n {ns} statefulset/{primary} --replicas=0
#    kubectl delete pvc -n {ns} data-{pod}    # the old volume, if it still exists
#    kubectl scale -n {ns} statefulset/{primary} --replicas=1
#    kubectl logs -n {ns} {pod} -c restore    # "restored base backup ..."
#    Keep recover_from: it is read only when the volume is empty.
{redis}"""


def runbook(stack: Stack, name: str, time: str, into: str | None = None) -> str:
    """The steps as comments; the Cluster manifest follows them (`phasestack restore`)."""
    into = into or default_into(stack)
    r = restored(stack, time).postgres
    ns, primary, db = stack.namespace, named(stack, POSTGRES), stack.postgres.database
    redis = (f"#\n# Redis: `phasestack restore {name} --time {time} --redis` prints its script.\n"
             if stack.runs("redis") and stack.redis.backup else "")
    return f"""\
# Restore {name}'s PostgreSQL to {time} (archive {r.cloudnativepg.recover_from.server_name} in
# {r.backup.store.destination}).
#
# A. Beside the running database (a dropped table, a bad migration): the Cluster below.
#    1. kubectl apply --server-side -f restore.yaml    (this output)
#    2. kubectl wait -n {ns} cluster/{into} --for=condition=Ready --timeout=60m
#       (the newest base backup before {time}, then WAL replayed up to it)
#    3. copy back what was lost, e.g.
#       kubectl exec -n {ns} {primary_pod(ns, into)} -c postgres -- pg_dump -d {db} -t TABLE \\
#         | kubectl exec -i -n {ns} {primary_pod(ns, primary)} -c postgres -- psql -d {db}
#    4. kubectl delete cluster -n {ns} {into}
#
# B. In place of a lost one (the volumes, the namespace or the cluster are gone): in the
#    stack file set
#      postgres:
#        backup:
#          server_name: {r.backup.server_name}    # the restored cluster's own archive
#        cloudnativepg:
#          recover_from:
#            server_name: {r.cloudnativepg.recover_from.server_name}
#            target_time: "{time}"
#    then `pulumi up`: the Cluster {primary} is created from the archive with every name the
#    stack wires (PgBouncer and the API reconnect as they are). Keep recover_from: it is read
#    only when the Cluster is created.
{redis}"""

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
    if not cnpg.enabled(stack) or pg.backup is None:
        raise PhasestackError("restore needs postgres.engine: cloudnativepg and a "
                              "postgres.backup section (the archive to restore from)")
    new = f"{pg.backup.server_name}-r{time[:16].replace('-', '').replace(':', '')}".lower()
    postgres = type(pg).model_validate({
        **pg.model_dump(), "backup": {**pg.backup.model_dump(), "server_name": new},
        "cloudnativepg": {**pg.cloudnativepg.model_dump(), "recover_from": {
            "server_name": pg.backup.server_name, "target_time": time}}})
    return stack.model_copy(update={"postgres": postgres})


def default_into(stack: Stack) -> str:
    return f"{named(stack, POSTGRES)}-restore"


def cluster(stack: Stack, time: str, into: str | None = None) -> dict:
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

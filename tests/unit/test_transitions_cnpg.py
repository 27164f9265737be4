"""transitions.cnpg: the runbook from the StatefulSet engine to a CloudNativePG Cluster (a new
Cluster, a write stop, pg_dump and pg_restore, the re-point), and a Cluster's own changes."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.transitions import runbook

PRIMARY = ('$(kubectl get pod -n "$NS" -o name '
           "-l cnpg.io/cluster=postgres,cnpg.io/instanceRole=primary)")


def steps(a: Stack, b: Stack) -> list:
    return runbook.runbook(a, b, "a", "b").steps


def test_the_presets_move_copies_the_old_primary_in_a_write_stop():
    a = Stack.for_phase("phase1", namespace="pay")
    b = Stack.for_phase("phase2", namespace="pay")  # CloudNativePG, importing
    by_title = {s.title: s for s in steps(a, b)}
    titles = list(by_title)
    first = titles.index("Stop writes (downtime starts)")
    assert titles[first:first + 3] == [
        "Stop writes (downtime starts)",
        "PostgreSQL: a CloudNativePG Cluster, copied from the StatefulSet primary",
        "Re-point PgBouncer and the API at postgres-rw"]
    copy = by_title["PostgreSQL: a CloudNativePG Cluster, copied from the StatefulSet primary"]
    assert copy.moves_data
    assert copy.commands[1] == ('kubectl wait -n "$NS" cluster/postgres --for=condition=Ready '
                                "--timeout=60m")
    assert copy.commands[3].startswith('kubectl exec -n "$NS" postgres-0 -c postgres -- psql')
    assert copy.commands[4].startswith(f'kubectl exec -n "$NS" {PRIMARY} -c postgres -- psql')


def test_without_the_copy_the_move_dumps_the_old_primary_into_the_new_clusters_primary():
    a = Stack.for_phase("phase2", namespace="pay", postgres={"engine": "statefulset"})
    b = Stack.for_phase("phase2", namespace="pay", postgres={
        "cloudnativepg": {"import_from_statefulset": False}})
    titles = [s.title for s in steps(a, b)]
    first = titles.index("PostgreSQL: a CloudNativePG Cluster beside the StatefulSet")
    assert titles[first:first + 4] == [
        "PostgreSQL: a CloudNativePG Cluster beside the StatefulSet",
        "Stop writes (downtime starts)",
        "Move the data: pg_dump from the StatefulSet, pg_restore into the Cluster",
        "Re-point PgBouncer and the API at postgres-rw"]
    move = steps(a, b)[first + 2]
    assert move.moves_data
    assert move.commands[0] == ('kubectl exec -n "$NS" postgres-0 -c postgres -- pg_dump -U '
                                "postgres -Fc app > app.dump")
    assert move.commands[1].startswith(f'kubectl exec -i -n "$NS" {PRIMARY} -c postgres -- ')
    repoint = steps(a, b)[first + 3]
    # phase2 has a read replica: its postgres-ro goes before anything reads through the name
    assert repoint.commands[0] == 'kubectl delete service -n "$NS" postgres-ro'
    # the StatefulSet engine's own steps are not given for the move
    assert not any(t.startswith("PostgreSQL: read replicas") for t in titles)


def test_a_clusters_instances_and_settings_are_the_operators():
    b = Stack.for_phase("phase3", namespace="pay")
    c = Stack.for_phase("phase3", namespace="pay", postgres={"read_replicas": 1,
                                                             "max_connections": 300})
    by_title = {s.title: s for s in steps(b, c)}
    scale = by_title["PostgreSQL (CloudNativePG): instances 4 -> 2"]
    assert scale.commands[1] == ('kubectl wait -n "$NS" cluster/postgres --for=condition=Ready '
                                 "--timeout=30m")
    settings = by_title["PostgreSQL (CloudNativePG): the Cluster's settings"]
    assert settings.what[0].startswith("spec.postgresql.parameters.max_connections: ")
    assert settings.commands[2].startswith(f'kubectl exec -n "$NS" {PRIMARY} -c postgres')

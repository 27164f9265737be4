"""What survives what (plan.recovery): per store and stack, exact figures and verdicts against
review 001's RPO < 15 min and RTO < 1 h; apart from the capacity verdict."""

from __future__ import annotations

from phasestack.plan import capacity, recovery, report
from phasestack.stackfile import load


def statuses(name: str) -> list[tuple[str, str, str]]:
    return [(c.component, c.name, c.status) for c in recovery.checks(load(name).stack)]


def test_in_cluster_postgres_has_no_recovery_point_and_a_node_loss_needs_someone():
    assert statuses("phase1") == [
        ("postgres", "recovery point (RPO)", "FAIL"),
        ("postgres", "writes stop (RTO)", "WARN"),
        ("redis", "recovery point (RPO)", "FAIL")]  # one standalone server
    rpo, rto, _ = recovery.checks(load("phase1").stack)
    assert rpo.formula == "RPO unbounded <= review 001's 15 min: false"
    # a StatefulSet replaces a pod on a lost node only once that pod is deleted
    assert rto.formula == ("node loss >= eviction 300 s + forced detach 360 s = 11 min, plus "
                           "the wait for the pod's deletion: within review 001's 60 min only "
                           "if that happens within 49 min")
    assert recovery.NODE_LOSS_S == 660


def test_a_read_replica_is_named_but_does_not_make_a_backup():
    from phasestack.model import Stack

    rpo = recovery.checks(Stack.for_phase("phase2", postgres={"engine": "statefulset"}))[0]
    assert rpo.status == "FAIL"
    assert ("unless one of the 1 read replica(s) is promoted by hand: asynchronous, at most "
            "64 MiB of WAL behind while ready; a dropped table or a lost namespace is gone on "
            "every copy") in rpo.reason


def test_a_redis_cluster_survives_one_failure():
    (redis,) = [c for c in recovery.checks(load("phase3").stack) if c.component == "redis"]
    assert redis.status == "PASS"
    assert "cluster-node-timeout 5 s" in redis.reason
    assert redis.formula == "one failure: seconds of writes <= review 001's 15 min"


def test_managed_stores_are_the_providers_and_said_so():
    assert statuses("shop") == [("postgres", "recovery point (RPO)", "WARN"),
                                ("redis", "recovery point (RPO)", "WARN")]


def test_recovery_is_reported_apart_from_the_capacity_verdict():
    r = capacity.plan(load("phase1").stack, "phase1")
    # recovery fails, capacity passes: the verdict is the capacity's
    assert {c.status for c in r.recovery} == {"FAIL", "WARN"} and r.verdict == "PASS"
    assert all(c not in r.checks for c in r.recovery) and len(r.recovery) == 3
    text = report.table(r)
    assert "recovery (review 001: RPO < 15 min, RTO < 1 h):" in text
    assert "FAIL  postgres recovery point (RPO)" in text
    assert "| FAIL recovery point (RPO) | postgres |" in report.markdown(r)
    assert '"recovery": [' in report.as_json(r)


def test_the_readmes_what_survives_what_table_is_plans():
    from pathlib import Path

    from phasestack.stackfile import list_stack_files

    root = Path(__file__).parents[2]
    stacks = {p.name[len("Pulumi."):-len(".yaml")]: load(p).stack
              for p in list_stack_files(root)}
    table = recovery.table(stacks)
    assert table in (root / "README.md").read_text()
    assert "| phase3-ha | CloudNativePG, 3 standby(s), synchronous required, backups | PASS | " \
           "PASS | PASS, snapshots |" in table

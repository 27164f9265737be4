"""postgres.engine: cloudnativepg, postgres.backup and recover_from: defaults and the exact
messages of what the model refuses; `phasestack restore`; the recovery figures plan states."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from phasestack.cli import main
from phasestack.model import Postgres, Stack
from phasestack.plan import recovery
from phasestack.stackfile import load
from phasestack.transitions import restore
from tests.unit.crd_schema import errors

STORE = {"destination": "s3://backups/pay", "credentials_secret": "backup-s3"}
BACKUP = {"store": STORE}


def message(build) -> str:
    with pytest.raises(ValidationError) as exc:
        build()
    return exc.value.errors()[0]["msg"].removeprefix("Value error, ")


def test_defaults():
    pg = Postgres()
    assert pg.engine == "statefulset" and pg.backup is None
    c = pg.cloudnativepg
    assert c.image == "ghcr.io/cloudnative-pg/postgresql:15.14-system-trixie"
    assert (c.install_operator, c.synchronous, c.anti_affinity) == (True, "required",
                                                                     "preferred")
    b = Postgres(engine="cloudnativepg", backup=BACKUP).backup
    assert (b.archive_timeout_s, b.retention_days, b.schedule) == (300, 7, "0 0 3 * * *")
    assert b.store.egress.internet and b.store.egress.internet_ports == [443]


@pytest.mark.parametrize("build, expected", [
    (lambda: Postgres(backup=BACKUP), None),  # the statefulset engine's sidecar
    (lambda: Postgres(backup={**BACKUP, "schedule": "0 0 3 1 * *"}),
     "backup.schedule '0 0 3 1 * *': the statefulset engine's sidecar takes a base backup every "
     "longest gap of the schedule; give one whose days of the month and months are * (e.g. "
     "0 0 3 * * *)"),
    (lambda: Postgres(engine="cloudnativepg", backup={**BACKUP, "schedule": "0 0 3 1 * *"}),
     None),  # the operator's cron
    (lambda: Postgres(backup={**BACKUP, "schedule": "0 0 25 * * *"}),
     "schedule '0 0 25 * * *': hour '25' is not *, a number, a range or a step within 0-23"),
    (lambda: Postgres(recover_from={"server_name": "old"}),
     "recover_from: needs a backup section (its store holds the archive)"),
    (lambda: Postgres(backup=BACKUP, recover_from={"server_name": "postgres"}),
     "recover_from.server_name 'postgres' is backup.server_name too: the restored cluster must "
     "archive under a new name (its own timeline), e.g. backup.server_name: postgres-2"),
    (lambda: Postgres(engine="cloudnativepg", backup=BACKUP, recover_from={"server_name": "a"}),
     "recover_from: engine cloudnativepg restores through cloudnativepg.recover_from"),
    (lambda: Stack(target="docker", postgres={"backup": BACKUP}),
     "target: docker renders the MVP shape; this stack also has: postgres.backup (a sidecar) "
     "(use target: kubernetes)"),
    (lambda: Postgres(engine="cloudnativepg", backup=BACKUP,
                      external={"host": "db.example.com", "password_secret": "db"}),
     "backup: a managed PostgreSQL's backups are the provider's"),
    (lambda: Postgres(engine="cloudnativepg",  # the engine is unused with a managed one
                      external={"host": "db.example.com", "password_secret": "db"}), None),
    (lambda: Postgres(engine="cloudnativepg",
                      cloudnativepg={"recover_from": {"server_name": "postgres"}}),
     "cloudnativepg.recover_from: needs engine: cloudnativepg and a backup section (its store "
     "holds the archive)"),
    (lambda: Postgres(engine="cloudnativepg", backup=BACKUP,
                      cloudnativepg={"recover_from": {"server_name": "postgres"}}),
     "cloudnativepg.recover_from.server_name 'postgres' is backup.server_name too: the restored "
     "cluster must archive under a new name (its own timeline), e.g. backup.server_name: "
     "postgres-2"),
    (lambda: Stack(target="docker", postgres={"engine": "cloudnativepg"}),
     "target: docker renders the MVP shape; this stack also has: postgres.engine: "
     "cloudnativepg (an operator) (use target: kubernetes)"),
])
def test_refused_with_exact_messages(build, expected):
    if expected is None:
        build()
        return
    assert message(build) == expected


@pytest.mark.parametrize("field, value", [
    ("schedule", "0 3 * * *"),                  # five fields: the operator's cron has six
    ("archive_timeout_s", 0),
])
def test_backup_fields_out_of_range(field, value):
    with pytest.raises(ValidationError) as exc:
        Postgres(engine="cloudnativepg", backup={**BACKUP, field: value})
    assert exc.value.errors()[0]["loc"] == ("backup", field)


def test_target_time_needs_its_offset():
    with pytest.raises(ValidationError):
        Postgres(engine="cloudnativepg", backup={**BACKUP, "server_name": "pg-2"},
                 cloudnativepg={"recover_from": {"server_name": "pg",
                                                 "target_time": "2026-12-04T09:30:00"}})


def stack(**postgres) -> Stack:
    return Stack.for_phase("phase3", namespace="pay",
                           postgres={"engine": "cloudnativepg", **postgres})


def test_recovery_checks_per_synchronous_mode_and_backup():
    rpo, rto = recovery.postgres(stack(backup=BACKUP))
    assert (rpo.status, rto.status) == ("PASS", "PASS")
    assert rpo.formula == ("archive_timeout 300 s + upload ~5 s = 305 s <= review 001's 15 min: "
                           "true")
    assert rto.formula == ("node loss: node-monitor-grace-period 50 s + primary lease 15 s + "
                           "promotion = ~65 s <= review 001's 60 min: true")
    assert "a failover loses nothing acknowledged" in rto.reason
    late = recovery.postgres(stack(backup={**BACKUP, "archive_timeout_s": 1200}))[0]
    assert late.status == "FAIL"
    assert late.formula.endswith("= 1205 s <= review 001's 15 min: false")
    no_backup, _ = recovery.postgres(stack())
    assert no_backup.status == "FAIL"
    assert "preferred" not in rto.reason
    off = recovery.postgres(stack(cloudnativepg={"synchronous": "off"}))[1]
    assert "the last asynchronously replicated commits" in off.reason
    single = recovery.postgres(stack(read_replicas=0, backup=BACKUP))[1]
    assert single.status == "WARN"


def test_restore_runbook_and_cluster(tmp_path, monkeypatch):
    s = stack(backup=BACKUP)
    time = restore.target_time("2026-12-04T10:30:00+01:00")
    assert time == "2026-12-04T09:30:00Z"
    doc = restore.cluster(s, time)
    assert doc["metadata"]["name"] == "postgres-restore"
    assert doc["spec"]["bootstrap"] == {"recovery": {
        "source": "origin", "recoveryTarget": {"targetTime": "2026-12-04T09:30:00Z"},
        "database": "app", "owner": "app", "secret": {"name": "postgres-app"}}}
    (origin,) = doc["spec"]["externalClusters"]
    assert origin["barmanObjectStore"]["serverName"] == "postgres"  # where it reads
    # where it archives: a new lineage
    assert doc["spec"]["backup"]["barmanObjectStore"]["serverName"] == "postgres-r20261204t0930"
    assert errors(doc) == []
    text = restore.runbook(s, "pay", time)
    assert "kubectl wait -n pay cluster/postgres-restore --for=condition=Ready" in text
    assert "server_name: postgres-r20261204t0930" in text
    # the in-place path is a valid stack: its Cluster is the recovered one, named as before
    inplace = restore.restored(s, time)
    assert inplace.postgres.cloudnativepg.recover_from.server_name == "postgres"


def test_restore_command_prints_the_runbook_then_the_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.pay.yaml").write_text(yaml.safe_dump({"config": {
        "phasestack:phase": "phase3", "phasestack:namespace": "pay",
        "phasestack:postgres": {"engine": "cloudnativepg", "backup": BACKUP}}}))
    r = CliRunner().invoke(main, ["restore", "pay", "--time", "2026-12-04T09:30:00Z"])
    assert r.exit_code == 0, r.output
    head, manifest = r.output.split("\n---\n")
    assert head.startswith("# Restore pay's PostgreSQL to 2026-12-04T09:30:00Z")
    assert yaml.safe_load(manifest)["kind"] == "Cluster"
    bad = CliRunner().invoke(main, ["restore", "pay", "--time", "yesterday"])
    assert bad.exit_code == 2
    assert bad.output == ("error: --time 'yesterday': give an RFC 3339 time with its offset, "
                          "e.g. 2026-12-04T09:30:00Z\n")
    (tmp_path / "stacks" / "Pulumi.plain.yaml").write_text(yaml.safe_dump({"config": {
        "phasestack:phase": "phase3", "phasestack:namespace": "plain"}}))
    plain = CliRunner().invoke(main, ["restore", "plain", "--time", "2026-12-04T09:30:00Z"])
    assert plain.exit_code == 2
    assert plain.output == (f"error: {load('plain').path}: restore needs a postgres.backup "
                            "section (the archive to restore from)\n")


def test_cnpg_operator_command_prints_the_pinned_manifest():
    from phasestack.synth import cnpg_operator

    r = CliRunner().invoke(main, ["cnpg-operator"])
    assert r.exit_code == 0
    assert r.output == cnpg_operator.manifest_text()
    assert "image: ghcr.io/cloudnative-pg/cloudnative-pg:1.30.1" in r.output

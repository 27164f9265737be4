"""The StatefulSet engine's backups (postgres.backup, engine statefulset): the sidecar, the
spool, the restore init container, the archive settings, the planner and the runbook."""

from __future__ import annotations

import json
import subprocess

from click.testing import CliRunner

from phasestack.cli import main
from phasestack.model import Stack
from phasestack.plan import recovery
from phasestack.synth import postgres, postgres_backup
from phasestack.transitions import restore

STORE = {"destination": "s3://acme-backups/pg", "credentials_secret": "backup-s3",
         "endpoint_url": "http://minio.backup:9000"}


def stack(phase: str = "phase1", **postgres_fields) -> Stack:
    return Stack.for_phase(phase, namespace="shop",
                           postgres={"backup": {"store": STORE}, **postgres_fields})


def pod(s: Stack, name: str = "postgres") -> dict:
    (doc,) = [d for d in postgres.manifests(s)
              if d["kind"] == "StatefulSet" and d["metadata"]["name"] == name]
    return doc["spec"]["template"]["spec"]


def test_the_primary_gets_the_sidecar_and_the_spool():
    s = stack(read_replicas=1)
    spec = pod(s)
    names = [c["name"] for c in spec["containers"]]
    assert names == ["postgres", "postgres-exporter", "backup"]
    assert "initContainers" not in spec  # no recover_from: initdb as before
    sidecar = spec["containers"][2]
    assert sidecar["image"] == "ghcr.io/cloudnative-pg/postgresql:15.14-system-trixie"
    assert sidecar["command"] == ["python3", "/etc/postgresql/backup.py", "run"]
    mounts = {m["name"]: m for m in sidecar["volumeMounts"]}
    assert mounts["data"] == {"name": "data", "mountPath": "/var/lib/postgresql/data",
                              "readOnly": True}
    assert {"name": "wal-spool", "mountPath": "/wal-spool"} in spec["containers"][0][
        "volumeMounts"]
    assert {"name": "wal-spool", "emptyDir": {}} in spec["volumes"]
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert json.loads(env["ARCHIVE"]) == [
        "barman-cloud-wal-archive", "--gzip", "--endpoint-url", "http://minio.backup:9000",
        "s3://acme-backups/pg", "postgres"]
    assert json.loads(env["BACKUP"])[:4] == ["barman-cloud-backup", "--gzip",
                                             "--immediate-checkpoint", "-h"]
    assert env["BACKUP_EVERY_S"] == "86400"  # the default 03:00 daily: at most a day apart
    # the replicas archive nothing and carry no sidecar
    assert [c["name"] for c in pod(s, "postgres-replica")["containers"]] == [
        "postgres", "postgres-exporter"]


def test_archive_command_goes_through_the_spool_script():
    files = {d["metadata"]["name"]: d for d in postgres.manifests(stack())
             if d["kind"] == "ConfigMap"}["postgres"]["data"]
    conf = files["postgresql.conf"]
    assert "archive_mode = 'on'\n" in conf and "archive_timeout = '300s'\n" in conf
    assert "archive_command = 'sh /etc/postgresql/wal-spool.sh push %p %f'\n" in conf
    assert {"wal-spool.sh", "backup.py"} <= files.keys()
    # without a backup: neither the settings nor the files
    plain = {d["metadata"]["name"]: d for d in postgres.manifests(Stack.for_phase("phase1"))
             if d["kind"] == "ConfigMap"}["postgres"]["data"]
    assert "archive_mode" not in plain["postgresql.conf"] and "backup.py" not in plain


def test_recover_from_adds_the_restore_init_container():
    s = stack(backup={"store": STORE, "server_name": "pg-2"},
              recover_from={"server_name": "pg", "target_time": "2026-12-04T09:30:00Z"})
    (init,) = pod(s)["initContainers"]
    assert init["name"] == "restore" and init["command"][-1] == "restore"
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert json.loads(env["RESTORE_LIST"])[-1] == "pg"  # the archive it reads
    assert env["TARGET_TIME"] == "2026-12-04T09:30:00Z"
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    sidecar = {e["name"]: e.get("value") for e in pod(s)["containers"][2]["env"]}
    assert json.loads(sidecar["FETCH"])[-1] == "pg"      # WAL replayed from the old archive
    assert json.loads(sidecar["ARCHIVE"])[-1] == "pg-2"  # new WAL into its own


def test_spool_script_is_valid_sh_and_refuses_an_unknown_mode(tmp_path):
    path = tmp_path / "wal-spool.sh"
    path.write_text(postgres_backup.wal_spool_script(str(tmp_path)))
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    bad = subprocess.run(["sh", str(path), "pull"], capture_output=True, text=True)
    assert (bad.returncode, bad.stderr) == (2, "wal-spool: unknown mode pull (push|fetch)\n")


def test_sidecar_script_compiles_and_names_its_modes(tmp_path):
    path = tmp_path / "backup.py"
    path.write_text(postgres_backup.sidecar_script())
    compile(path.read_text(), str(path), "exec")
    bad = subprocess.run(["python3", str(path), "nap"], capture_output=True, text=True)
    assert (bad.returncode, bad.stderr) == (1, "usage: backup.py run|restore (got 'nap')\n")


def test_recovery_check_and_runbook():
    (rpo, rto) = recovery.postgres(stack())
    assert rpo.status == "PASS" and rto.status == "WARN"
    assert rpo.formula == ("archive_timeout 300 s + upload ~5 s = 305 s <= review 001's "
                           "15 min: true")
    assert "into a new stack or volume (postgres.recover_from" in rpo.reason
    text = restore.statefulset_runbook(stack(), "shop", "2026-12-04T09:30:00Z")
    assert "    recover_from:\n#       server_name: postgres\n" in text
    assert "kubectl delete pvc -n shop data-postgres-0" in text
    r = restore.restored(stack(), "2026-12-04T09:30:00Z").postgres
    assert (r.backup.server_name, r.recover_from.target_time) == (
        "postgres-r20261204t0930", "2026-12-04T09:30:00Z")


def test_restore_command_prints_the_statefulset_runbook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.shop.yaml").write_text(
        "config:\n  phasestack:phase: phase1\n  phasestack:namespace: shop\n"
        "  phasestack:postgres:\n    backup:\n      store:\n"
        "        destination: s3://acme-backups/pg\n        credentials_secret: backup-s3\n"
        "        endpoint_url: http://minio.backup:9000\n")
    r = CliRunner().invoke(main, ["restore", "shop", "--time", "2026-12-04T09:30:00Z"])
    assert r.exit_code == 0, r.output
    assert r.output == restore.statefulset_runbook(stack(), "shop", "2026-12-04T09:30:00Z")
    into = CliRunner().invoke(main, ["restore", "shop", "--time", "2026-12-04T09:30:00Z",
                                     "--into", "copy"])
    assert into.exit_code == 2
    assert into.output.endswith(": --into names a CloudNativePG Cluster to restore into; the "
                                "statefulset engine restores into a new stack (`phasestack "
                                "restore` without --into prints how)\n")

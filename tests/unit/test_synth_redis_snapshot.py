"""Redis snapshots (redis.backup): the model's defaults and refusals, the CronJob and its
script, the NetworkPolicies, the planner's recovery figures and the restore script."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner

from phasestack.cli import main
from phasestack.model import Redis, Stack
from phasestack.model.backup import RedisBackup
from phasestack.plan import recovery
from phasestack.synth import network, redis, redis_snapshot, synthesize
from phasestack.synth.common import CREDENTIALS, Flow
from phasestack.transitions import redis_restore

STORE = {"destination": "s3://acme-backups/prod", "credentials_secret": "backup-s3"}


def stack(phase: str = "phase3", **backup) -> Stack:
    return Stack.for_phase(phase, namespace="shop", redis={"backup": {"store": STORE, **backup}})


def cron_job(s: Stack) -> dict:
    (doc,) = [d for d in redis.manifests(s) if d["kind"] == "CronJob"]
    return doc


def test_defaults():
    b = RedisBackup(store=STORE)
    assert (b.server_name, b.schedule, b.retention_days) == ("redis", "*/10 * * * *", 2)
    assert b.image == "amazon/aws-cli:2.32.2"
    assert Redis().backup is None


def test_refused_with_exact_messages(refusal):
    assert refusal(lambda: RedisBackup(store=STORE, schedule="0 25 * * *")) == (
        "schedule '0 25 * * *': hour '25' is not *, a number, a range or a step within 0-23")
    assert refusal(lambda: Redis(backup={"store": STORE}, external={
        "host": "r.example.com", "password_secret": "r", "cidrs": ["10.0.0.0/8"]})) == (
        "backup: a managed Redis's snapshots are the provider's")
    assert refusal(lambda: Stack.for_phase("mvp", target="docker",
                                           redis={"backup": {"store": STORE}})) == (
        "target: docker renders the MVP shape; this stack also has: redis.backup (a "
        "Kubernetes CronJob) (use target: kubernetes)")


def test_no_backup_no_cron_job():
    assert not [d for d in redis.manifests(Stack.for_phase("phase3")) if d["kind"] == "CronJob"]
    assert Flow("redis-snapshot", "redis", 6379) not in redis.flows(Stack.for_phase("phase3"))


@pytest.mark.parametrize(("phase", "mode", "host", "size"), [
    ("phase1", "standalone", "redis.shop.svc.cluster.local", "2048Mi"),
    ("phase3", "cluster", "redis-0.redis-headless.shop.svc.cluster.local", f"{6 * 2048}Mi"),
])
def test_cron_job_dumps_then_uploads(phase, mode, host, size):
    s = stack(phase)
    doc = cron_job(s)
    spec = doc["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "*/10 * * * *", "Etc/UTC", "Forbid")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (dump,) = pod["initContainers"]
    (upload,) = pod["containers"]
    assert dump["image"] == s.redis.image and upload["image"] == "amazon/aws-cli:2.32.2"
    assert dump["command"] == ["sh", "/scripts/snapshot.sh", "dump", "/snapshot"]
    assert upload["command"] == ["sh", "/scripts/snapshot.sh", "upload", "/snapshot"]
    plain = {e["name"]: e.get("value") for e in dump["env"]}
    assert (plain["REDIS_HOST"], plain["REDIS_MODE"]) == (host, mode)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in dump["env"] + upload["env"]
            if "valueFrom" in e}
    assert refs == {"REDISCLI_AUTH": {"name": "redis-credentials", "key": "admin-password"},
                    "AWS_ACCESS_KEY_ID": {"name": "backup-s3", "key": "ACCESS_KEY_ID"},
                    "AWS_SECRET_ACCESS_KEY": {"name": "backup-s3", "key": "ACCESS_SECRET_KEY"}}
    env = {e["name"]: e.get("value") for e in upload["env"]}
    assert (env["DEST"], env["S3_ENDPOINT"], env["RETENTION_DAYS"]) == (
        "s3://acme-backups/prod/redis", "", "2")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["snapshot"]["emptyDir"] == {"sizeLimit": size}
    assert Flow("redis-snapshot", "redis", 6379) in redis.flows(s)


def test_script_is_valid_sh_and_refuses_an_unknown_mode(tmp_path):
    path = tmp_path / "snapshot.sh"
    path.write_text(redis_snapshot.script())
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    bad = subprocess.run(["sh", str(path), "restore", str(tmp_path)], capture_output=True,
                         text=True)
    assert (bad.returncode, bad.stderr) == (2, "snapshot.sh: unknown mode restore "
                                               "(dump|upload)\n")


def test_egress_to_the_store_only_for_the_snapshot_pods():
    s = stack(store={**STORE, "endpoint_url": "http://minio.backup:9000",
                     "egress": {"internet": False,
                                "allow": [{"cidr": "10.20.0.0/16", "ports": [9000]}]}})
    policies = {p["metadata"]["name"]: p for p in network.external(s)}
    egress = policies["egress-redis-snapshot-external"]["spec"]
    assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "redis-snapshot"
    assert egress["egress"] == [{"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                                 "ports": [{"protocol": "TCP", "port": 9000}]}]
    env = {e["name"]: e.get("value") for e in
           cron_job(s)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["S3_ENDPOINT"] == "http://minio.backup:9000"
    # a stack renders it with everything else
    docs = synthesize(s, {c: "x" for c in CREDENTIALS})
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"] == ["redis-snapshot"]


def test_recovery_figures():
    (standalone,) = recovery.redis(stack("phase1"))
    assert standalone.status == "PASS"
    assert standalone.formula == ("volume loss: snapshot gap + one run (~641 s, 2048 MiB at an "
                                  "assumed 50 MiB/s) <= review 001's 15 min: true")
    (hourly,) = recovery.redis(stack("phase1", schedule="0 * * * *"))
    assert hourly.status == "FAIL"
    assert hourly.formula == ("volume loss: snapshot gap + one run (~3641 s, 2048 MiB at an "
                              "assumed 50 MiB/s) <= review 001's 15 min: false")
    (monthly,) = recovery.redis(stack("phase1", schedule="0 0 1 * *"))
    assert monthly.status == "FAIL" and "a day or more apart" in monthly.reason
    (cluster,) = recovery.redis(stack("phase3"))
    assert cluster.status == "PASS"
    assert "both halves of a shard or the namespace lost: its keys are restored from the " \
           "last snapshot (RPO ~641 s)" in cluster.reason
    (none,) = recovery.redis(Stack.for_phase("phase1"))
    assert none.status == "FAIL" and "no snapshot leaves the volumes" in none.reason


@pytest.mark.parametrize(("phase", "has", "lacks"), [
    ("phase1", "REPLICAOF 127.0.0.1 6390", "--cluster import"),
    ("phase3", "--cluster import 127.0.0.1:6379 --cluster-from 127.0.0.1:6390", "REPLICAOF"),
])
def test_restore_script(tmp_path, phase, has, lacks):
    text = redis_restore.script(stack(phase), "shop", "2026-12-04T09:30:00Z")
    path = tmp_path / "restore.sh"
    path.write_text(text)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    assert has in text and lacks not in text
    assert "SRC=s3://acme-backups/prod/redis\n" in text
    assert "awk -v t=20261204T093000Z '$1 <= t'" in text
    assert "--endpoint-url" not in text  # AWS S3
    minio = redis_restore.script(stack(phase, store={**STORE, "endpoint_url": "http://m:9000"}),
                                 "shop", "2026-12-04T09:30:00Z")
    assert "s3() { aws s3 --endpoint-url http://m:9000 \"$@\"; }" in minio


def test_restore_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.shop.yaml").write_text(
        "config:\n  phasestack:phase: phase1\n  phasestack:redis:\n    backup:\n      store:\n"
        "        destination: s3://acme-backups/prod\n        credentials_secret: backup-s3\n")
    r = CliRunner().invoke(main, ["restore", "shop", "--time", "2026-12-04T10:30:00+01:00",
                                  "--redis"])
    assert r.exit_code == 0, r.output
    assert r.output == redis_restore.script(stack("phase1").model_copy(
        update={"namespace": "phasestack"}), "shop", "2026-12-04T09:30:00Z")
    (tmp_path / "stacks" / "Pulumi.bare.yaml").write_text("config:\n  phasestack:phase: phase1\n")
    bare = CliRunner().invoke(main, ["restore", "bare", "--time", "2026-12-04T09:30:00Z",
                                     "--redis"])
    assert bare.exit_code == 2
    assert bare.output.endswith("Pulumi.bare.yaml: restore --redis needs a redis.backup "
                                "section (the snapshots to restore from)\n")

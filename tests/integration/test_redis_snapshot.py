"""Redis snapshots to object storage and back (issue 16 item 3), on real servers: Valkey 9.1.2
from the stack's redis.conf, the rendered snapshot script (both halves: redis-cli's dump, the
AWS CLI's upload and retention) against a real S3-compatible server (versitygw), then the
volumes wiped and the script `phasestack restore --redis` prints run by bash as written, with
a `kubectl` on PATH that runs what it execs in redis-0 on this host (its port and directory
for the pod's) and answers the Secret lookup. Standalone and a 3-master Cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from phasestack.model.backup import RedisBackup
from phasestack.stackfile import load
from phasestack.synth import redis_snapshot
from phasestack.transitions import redis_restore
from tests.integration.conftest import free_port, require, wait_for
from tests.integration.test_postgres_pitr import BUCKET, KEY_ID, SECRET, s3_server
from tests.integration.test_redis_server import (
    PASSWORD,
    bootstrap_script,
    cli,
    cluster_info,
    run_bootstrap,
    start,
)
from tests.unit.conftest import statefulset

# Debian's awscli (/usr/bin/aws) before anything else called aws; Valkey's redis-cli first
AWS = "/usr/bin/aws"
SHIM = r'''
import base64, json, os, subprocess, sys
cfg = json.loads(os.environ["SHIM"])
a = sys.argv[1:]
if a[:2] == ["get", "secret"]:  # kubectl get secret -n NS NAME -o jsonpath='{.data.KEY}'
    key = a[-1].split(".data.", 1)[1].rstrip("}")
    sys.stdout.write(base64.b64encode(cfg["secrets"][key].encode()).decode())
    sys.exit(0)
if a[:1] == ["exec"] and "--" in a and a[a.index("--") - 2:a.index("--")] == ["-c", "redis"]:
    pod = a[a.index("--") - 3]
    assert pod == "redis-0", a
    def here(x):
        x = x.replace("/data", cfg["data"]).replace("127.0.0.1:6379", "127.0.0.1:%d" % cfg["port"])
        return x.replace("-p 6379", "-p %d" % cfg["port"]).replace("6390", str(cfg["temp"]))
    argv = [str(cfg["port"]) if x == "6379" else here(x) for x in a[a.index("--") + 1:]]
    if argv[0] == "redis-cli" and "-p" not in argv and "--cluster" not in argv:
        argv[1:1] = ["-p", str(cfg["port"])]
    stdin = None if "-i" in a[:a.index("--")] else subprocess.DEVNULL
    sys.exit(subprocess.run(argv, stdin=stdin).returncode)
sys.exit("kubectl (test shim): a command this test does not know: %r" % a)
'''


def backup(endpoint: str, server_name: str, **kw) -> dict:
    return {"store": {"destination": f"s3://{BUCKET}/redis-test", "endpoint_url": endpoint,
                      "credentials_secret": "backup-s3",
                      "egress": {"internet": False, "allow": [{"cidr": "127.0.0.1/32",
                                                               "ports": [443]}]}},
            "server_name": server_name, **kw}


def with_backup(stack, spec: dict):
    redis = type(stack.redis).model_validate({**stack.redis.model_dump(), "backup": spec})
    return stack.model_copy(update={"redis": redis})


def environment(workdir: Path) -> dict[str, str]:
    bin_dir = workdir / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "kubectl").write_text(f"#!{sys.executable}\n{SHIM}")
    (bin_dir / "kubectl").chmod(0o755)
    (bin_dir / "aws").symlink_to(require(AWS))
    redis_bin = Path(require("redis-cli")).parent
    return {"PATH": f"{bin_dir}:{redis_bin}:/usr/bin:/bin", "HOME": str(workdir),
            "AWS_DEFAULT_REGION": "us-east-1"}


def snapshot(stack, workdir: Path, env: dict, host_port: int, tag: str) -> str:
    """One CronJob run: the dump container, then the upload container (the pod's env)."""
    b = stack.redis.backup
    script = workdir / "snapshot.sh"
    script.write_text(redis_snapshot.script())
    out = workdir / f"snap-{tag}"
    out.mkdir()
    dump = {**env, **redis_snapshot.dump_env(stack), "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(host_port), "REDISCLI_AUTH": PASSWORD}
    upload = {**env, **redis_snapshot.upload_env(b), "HOME": str(workdir),
              "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    logs = ""
    for mode, e in (("dump", dump), ("upload", upload)):
        done = subprocess.run(["sh", str(script), mode, str(out)], env=e, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, (mode, done.stdout, done.stderr)
        logs += done.stdout
    return logs


def restore(stack, name: str, when: str, workdir: Path, env: dict, port: int,
            data: Path) -> subprocess.CompletedProcess:
    text = redis_restore.script(stack, name, when)
    (workdir / "restore.sh").write_text(text)
    shim = {"secrets": {"ACCESS_KEY_ID": KEY_ID, "ACCESS_SECRET_KEY": SECRET},
            "port": port, "temp": free_port(), "data": str(data)}
    done = subprocess.run(["bash", str(workdir / "restore.sh")],
                          env={**env, "SHIM": json.dumps(shim), "REDISCLI_AUTH": PASSWORD},
                          capture_output=True, text=True, timeout=600)
    return done


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamps(bucket: Path, server: str) -> list[str]:
    return sorted(p.name for p in (bucket / "redis-test" / server).iterdir())


def test_standalone_snapshot_upload_wipe_restore(servers, workdir):
    endpoint = s3_server(servers, workdir)
    bucket = workdir / "s3" / BUCKET
    stack = with_backup(load("phase1").stack, backup(endpoint, "standalone", retention_days=2))
    assert isinstance(stack.redis.backup, RedisBackup)
    env = environment(workdir)
    # an old snapshot past the retention, and a newer one that never finished (no marker)
    old = bucket / "redis-test" / "standalone" / "20200101T000000Z"
    old.mkdir(parents=True)
    (old / "redis.rdb").write_bytes(b"old")
    (old / "done").write_text("20200101T000000Z\n")
    port = free_port()
    proc = start(servers, stack, workdir, "redis-0", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "standalone redis")
    before = {f"session:{i}": f"user-{i}" for i in range(500)}
    for k, v in before.items():
        cli(port, "set", k, v)
    cli(port, "hset", "user:1", "name", "Ada", "plan", "pro")
    cli(port, "rpush", "queue:mail", "a", "b", "c")
    cli(port, "set", "ttl:key", "x", "ex", "3600")
    logs = snapshot(stack, workdir, env, port, "1")
    assert "1 RDB file(s)" in logs and "deleted" in logs and "20200101T000000Z" in logs
    assert not old.exists()
    time.sleep(1.1)
    target = now()
    time.sleep(1.1)
    for i in range(500, 600):  # written after the target: not restored
        cli(port, "set", f"session:{i}", "late")
    snapshot(stack, workdir, env, port, "2")
    # a run that died mid-upload at the target itself: no marker, so not a snapshot
    partial = bucket / "redis-test" / "standalone" / redis_restore.compact(target)
    partial.mkdir()
    (partial / "redis.rdb").write_bytes(b"partial")
    assert len(stamps(bucket, "standalone")) == 3
    # the volume is lost: a new, empty one
    servers.stop(proc)
    shutil.rmtree(workdir / "redis-0")
    proc = start(servers, stack, workdir, "redis-0", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "the new redis")
    assert cli(port, "dbsize") == "0"
    started = time.monotonic()
    done = restore(stack, "phase1", target, workdir, env, port, workdir / "redis-0")
    took = time.monotonic() - started
    assert done.returncode == 0, (done.stdout, done.stderr)
    print(f"\nstandalone restore of {len(before) + 3} keys: {took:.1f} s")
    for k, v in before.items():
        assert cli(port, "get", k) == v
    assert cli(port, "get", "session:550") == ""
    assert cli(port, "hget", "user:1", "plan") == "pro"
    assert cli(port, "lrange", "queue:mail", "0", "-1").split() == ["a", "b", "c"]
    assert 0 < int(cli(port, "ttl", "ttl:key")) <= 3600
    assert "role:master" in cli(port, "info", "replication")  # promoted back
    assert cli(port, "set", "after", "1") == "OK"
    # the restore asked for the newest complete snapshot at or before the target
    assert stamps(bucket, "standalone")[0] in done.stdout
    late = restore(stack, "phase1", "2020-01-01T00:00:00Z", workdir, env, port,
                   workdir / "redis-0")
    assert late.returncode == 1 and "no complete Redis snapshot at or before" in late.stderr


def test_cluster_snapshot_of_every_master_restores_into_a_new_cluster(servers, workdir):
    endpoint = s3_server(servers, workdir)
    stack = with_backup(statefulset(load("phase2").stack), backup(endpoint, "cluster"))
    r = stack.redis
    env = environment(workdir)
    ports = [free_port() for _ in range(r.pods)]
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))

    def new_cluster() -> list:
        procs = [start(servers, stack, workdir, f"node{i}", p, cluster_port=free_port(),
                       node_timeout_ms=1000) for i, p in enumerate(ports)]
        boot = run_bootstrap(script, ports, r.replicas_per_master)
        assert boot.returncode == 0, boot.stdout + boot.stderr
        return procs

    procs = new_cluster()
    keys = {f"cart:{{u{i}}}:items": str(i) for i in range(300)}
    for k, v in keys.items():
        cli(ports[0], "set", k, v, cluster=True)
    logs = snapshot(stack, workdir, env, ports[0], "1")
    assert f"{r.masters} RDB file(s)" in logs
    # every shard lost: all six volumes
    for p in procs:
        servers.stop(p)
    for i in range(r.pods):
        shutil.rmtree(workdir / f"node{i}")
    new_cluster()
    assert all(cluster_info(p)["cluster_state"] == "ok" for p in ports)
    assert cli(ports[0], "get", "cart:{u1}:items", cluster=True) == ""
    time.sleep(1.1)
    started = time.monotonic()
    done = restore(stack, "phase2", now(), workdir, env, ports[0], workdir / "node0")
    took = time.monotonic() - started
    assert done.returncode == 0, (done.stdout, done.stderr)
    print(f"\ncluster restore of {len(keys)} keys from {r.masters} masters: {took:.1f} s")
    assert done.stdout.count(".rdb") == r.masters
    for k, v in keys.items():
        assert cli(ports[0], "get", k, cluster=True) == v

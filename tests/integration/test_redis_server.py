"""The image's Valkey 9.1.2 (toolchain/valkey.sh; its redis-server) runs the rendered redis.conf
and the rendered bootstrap script.

The passwords reach the server the way the pod passes them (`--requirepass <admin>` and
`--user app on ><app> ...` after the config file), never through the config text.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from phasestack.stackfile import load
from phasestack.synth import redis
from phasestack.synth.redis_cluster import bootstrap_script
from tests.integration.conftest import free_port, require, wait_for

# the admin's (default user): starts with "--", so argv parsing must keep it a value; URL-safe,
# as every credential phasestack takes (redis-cli's --cluster import, MIGRATE ... AUTH, fails on
# a password with spaces and quotes)
PASSWORD = "--not-an-option-Password_0123"
APP_PASSWORD = "app-Password_0123456789"
FAST_STOP = ["--shutdown-on-sigterm", "nosave", "now"]


def cli(port: int, *args: str, auth: bool = True, cluster: bool = False,
        stdin: str | None = None, ip: str = "127.0.0.1") -> str:
    env = {"PATH": os.environ["PATH"], **({"REDISCLI_AUTH": PASSWORD} if auth else {})}
    cmd = [require("redis-cli"), "-h", ip, "-p", str(port),
           *(["-c"] if cluster else []), *args]
    return subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()


def start(servers, stack, workdir: Path, name: str, port: int, ip: str = "127.0.0.1",
          hostname: str | None = None, node: str | None = None, **conf_kw):
    """One server from the rendered config; a second start with another ip reuses the dir.
    It announces `hostname` (default: the ip), as a pod announces its DNS name, and
    `<name>/<node>` (default: a Kubernetes node of its own), as a pod announces its node."""
    d = workdir / name
    d.mkdir(exist_ok=True)
    conf = d / "redis.conf"
    conf.write_text(redis.redis_conf(stack, port=port, dir=str(d), bind=ip, **conf_kw))
    args = redis.server_args(stack, conf_path=str(conf), password_ref=APP_PASSWORD,
                             admin_ref=PASSWORD, hostname=hostname or ip,
                             nodename=f"{name}/{node or 'node-' + name}")
    return servers.start([require("redis-server"), *args, *FAST_STOP], d / "server.log")


def test_standalone_serves_the_rendered_config(servers, workdir):
    stack = load("phase1").stack
    port = free_port()
    proc = start(servers, stack, workdir, "standalone", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "redis-server")

    assert cli(port, "config", "get", "maxmemory").splitlines() == [
        "maxmemory", str(stack.redis.maxmemory_mb * 1024 * 1024)]
    assert cli(port, "config", "get", "maxmemory-policy").splitlines() == [
        "maxmemory-policy", "noeviction"]
    assert cli(port, "config", "get", "appendonly").splitlines() == ["appendonly", "yes"]
    assert cli(port, "config", "get", "dir").splitlines()[1] == str(workdir / "standalone")
    # the whole password, exactly as passed; nothing else authenticates
    assert cli(port, "config", "get", "requirepass").splitlines() == ["requirepass", PASSWORD]
    assert "NOAUTH" in cli(port, "get", "k", auth=False)
    assert cli(port, "set", "k", "v") == "OK"
    assert proc.poll() is None


def app_cli(port: int, *args: str, cluster: bool = False) -> subprocess.CompletedProcess:
    """redis-cli as the API connects: user app, its password (REDIS_URL redis://app:...@)."""
    cmd = [require("redis-cli"), "--no-auth-warning", "-h", "127.0.0.1", "-p", str(port),
           "--user", redis.APP_USER, "--pass", APP_PASSWORD, *(["-c"] if cluster else []), *args]
    return subprocess.run(cmd, env={"PATH": os.environ["PATH"]}, capture_output=True,
                          text=True, timeout=10)


# what the app's password must not do (issue 11: it could CONFIG SET and FLUSHALL)
ADMIN_ONLY = [("flushall",), ("flushdb",), ("config", "set", "maxmemory", "1"),
              ("config", "get", "requirepass"), ("keys", "*"), ("bgsave",), ("save",),
              ("shutdown", "nosave"), ("replicaof", "127.0.0.1", "1"), ("acl", "list"),
              ("client", "kill", "type", "normal"), ("monitor",)]


def test_app_user_cannot_run_admin_commands(servers, workdir):
    stack = load("phase1").stack
    port = free_port()
    proc = start(servers, stack, workdir, "acl", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "redis-server")
    # what an app and its queue library use
    for args, out in [(("set", "session:1", "v", "EX", "60"), "OK"), (("get", "session:1"), "v"),
                      (("lpush", "bull:q:wait", "job"), "1"), (("scan", "0"), None),
                      (("eval", "return redis.call('get', KEYS[1])", "1", "session:1"), "v"),
                      (("client", "setname", "api-1"), "OK")]:
        done = app_cli(port, *args)
        assert done.returncode == 0 and "NOPERM" not in done.stdout, (args, done.stdout)
        assert out is None or done.stdout.strip() == out, (args, done.stdout)
    # Valkey 9 reports Redis 7.2 to clients (their version checks), and its own version
    server = app_cli(port, "info", "server").stdout
    assert "redis_version:7.2" in server and "valkey_version:9.1.2" in server
    for args in ADMIN_ONLY:
        refused = app_cli(port, *args).stdout
        assert refused.startswith("NOPERM"), (args, refused)
    # nor from inside a script
    assert "has no permissions to run the 'flushall' command" in app_cli(
        port, "eval", "return redis.call('flushall')", "0").stdout
    # the default user is the admin; with no password nothing authenticates
    assert cli(port, "dbsize") == "2" and cli(port, "flushall") == "OK"
    assert "NOAUTH" in cli(port, "get", "k", auth=False)
    wrong = subprocess.run([require("redis-cli"), "--no-auth-warning", "-p", str(port), "--user",
                            redis.APP_USER, "--pass", PASSWORD, "ping"],
                           capture_output=True, text=True, timeout=10)
    assert "WRONGPASS" in wrong.stderr and "NOAUTH" in wrong.stdout
    assert proc.poll() is None


def test_standalone_probes_need_the_password(servers, workdir):
    stack = load("mvp").stack
    port = free_port()
    start(servers, stack, workdir, "probes", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "redis-server")
    sts = next(d for d in redis.manifests(stack) if d["kind"] == "StatefulSet")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        command = [part.replace("-p 6379", f"-h 127.0.0.1 -p {port}")
                   for part in probe["exec"]["command"]]
        base = {"PATH": os.environ["PATH"]}
        ok = subprocess.run(command, env={**base, "REDISCLI_AUTH": PASSWORD}, timeout=10)
        bad = subprocess.run(command, env=base, timeout=10)
        assert ok.returncode == 0
        assert bad.returncode != 0


def nodes_table(port: int, ip: str = "127.0.0.1") -> list[dict]:
    rows = []
    for line in cli(port, "cluster", "nodes", ip=ip).splitlines():
        f = line.split()
        if "handshake" in f[2]:  # a CLUSTER MEET in flight, not a member
            continue
        rows.append({"id": f[0], "port": int(re.match(r"[^:]*:(\d+)", f[1]).group(1)),
                     "flags": f[2].split(","), "master": f[3]})
    return rows


def cluster_info(port: int, ip: str = "127.0.0.1") -> dict[str, str]:
    return dict(line.split(":", 1) for line in cli(port, "cluster", "info", ip=ip).splitlines()
                if ":" in line)


def script_env(ports: list[int], replicas: int, ip: str, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD,
            "REDIS_NODES": " ".join(f"{ip}:{p}" for p in ports),
            "REDIS_REPLICAS": str(replicas), **extra}


def run_bootstrap(script: Path, ports: list[int], replicas: int, ip: str = "127.0.0.1",
                  stage_timeout: int = 30) -> subprocess.CompletedProcess:
    env = script_env(ports, replicas, ip, BOOTSTRAP_TIMEOUT=str(stage_timeout))
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True,
                          timeout=6 * stage_timeout)


def test_cluster_bootstrap_and_failover(servers, workdir):
    stack = load("phase2").stack
    r = stack.redis
    assert (r.masters, r.replicas_per_master, r.pods) == (3, 1, 6)
    ports = [free_port() for _ in range(r.pods)]
    procs = {}
    for i, port in enumerate(ports):
        procs[port] = start(servers, stack, workdir, f"node{i}", port,
                            cluster_port=free_port(), node_timeout_ms=1000)
    for port in ports:
        wait_for(lambda p=port: cli(p, "ping") == "PONG", 15, f"redis node {port}")
    assert cluster_info(ports[0])["cluster_state"] == "fail"

    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    first = run_bootstrap(script, ports, r.replicas_per_master)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "creating the cluster" in first.stdout
    for port in ports:
        info = cluster_info(port)
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == "16384"
        assert info["cluster_size"] == str(r.masters)
    def roles(port: int) -> tuple[int, int]:
        table = nodes_table(port)
        return (sum("master" in n["flags"] for n in table),
                sum("slave" in n["flags"] for n in table))
    # the script waits until every node lists every replica; gossip may still be settling
    # under load, so poll (bounded) rather than read one snapshot
    wait_for(lambda: all(roles(p) == (3, 3) for p in ports), 15, "3 masters, 3 replicas")
    table = nodes_table(ports[0])
    masters = [n for n in table if "master" in n["flags"]]
    replicas = [n for n in table if "slave" in n["flags"]]
    assert (len(masters), len(replicas)) == (3, 3)

    # idempotent: a second run finds the slots and only waits for cluster_state:ok
    again = run_bootstrap(script, ports, r.replicas_per_master)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cluster exists, not creating" in again.stdout
    assert "re-introducing" not in again.stdout
    assert {n["id"] for n in nodes_table(ports[0])} == {n["id"] for n in table}

    keys = {f"session:{i}": f"value-{i}" for i in range(60)}
    for k, v in keys.items():  # as the app: its ACL user follows MOVED and reads CLUSTER SLOTS
        done = app_cli(ports[0], "set", k, v, cluster=True)
        assert done.stdout.strip() == "OK", done.stdout + done.stderr
    assert app_cli(ports[0], "cluster", "slots").stdout.count(str(ports[0])) >= 1
    assert app_cli(ports[0], "cluster", "reset").stdout.startswith("NOPERM")

    victim = masters[0]
    heir = next(n for n in replicas if n["master"] == victim["id"])
    wait_for(lambda: cli(victim["port"], "dbsize") == cli(heir["port"], "dbsize"), 15,
             "replica in sync")
    assert int(cli(victim["port"], "dbsize")) > 0
    procs[victim["port"]].kill()  # a crash, not a clean shutdown
    procs[victim["port"]].wait(10)

    wait_for(lambda: "role:master" in cli(heir["port"], "info", "replication"), 30,
             "replica promoted")
    survivors = [p for p in ports if p != victim["port"]]
    for port in survivors:
        wait_for(lambda p=port: cluster_info(p)["cluster_state"] == "ok", 30,
                 f"cluster_state:ok on {port}")
    survivor = survivors[0]
    for k, v in keys.items():
        assert cli(survivor, "get", k, cluster=True) == v


def shards(port: int) -> dict[str, set[str]]:
    """master id -> the ids of its replicas, as `port`'s table lists them."""
    table = nodes_table(port)
    out = {n["id"]: set() for n in table if "master" in n["flags"]}
    for n in table:
        if "slave" in n["flags"]:
            out.setdefault(n["master"], set()).add(n["id"])
    return out


def clashes(port: int, host: dict[str, str]) -> list[tuple[str, str]]:
    """(master id, replica id) pairs that share a Kubernetes node."""
    return [(m, r) for m, rs in shards(port).items() for r in rs if host[r] == host[m]]


def test_replicas_leave_their_masters_node(servers, workdir):
    """More Redis pods than Kubernetes nodes (6 on 3, two on each): the bootstrap, and after a
    pod lands beside its master the lowest-ID master's watch loop, re-point each replica to a
    master on another node. Each server announces `<pod>/<node>` as a pod does."""
    stack = load("phase2").stack
    ports = [free_port() for _ in range(stack.redis.pods)]
    node_of = {p: f"node-{'abc'[i % 3]}" for i, p in enumerate(ports)}  # 0 and 3 on node-a...
    for i, p in enumerate(ports):
        start(servers, stack, workdir, f"redis-{i}", p, node=node_of[p],
              cluster_port=free_port(), node_timeout_ms=1000)
    for port in ports:
        wait_for(lambda p=port: cli(p, "ping") == "PONG", 15, f"redis node {port}")
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    created = run_bootstrap(script, ports, 1)
    assert created.returncode == 0, created.stdout + created.stderr
    ids = {p: cli(p, "cluster", "myid") for p in ports}
    host = {ids[p]: node_of[p] for p in ports}
    wait_for(lambda: all(len(rs) == 1 for rs in shards(ports[0]).values()), 15, "one replica each")
    assert clashes(ports[0], host) == [], created.stdout
    print("created:", [line for line in created.stdout.splitlines() if "placement" in line])
    keys = {f"cart:{i}": str(i) for i in range(30)}
    for k, v in keys.items():
        assert app_cli(ports[0], "set", k, v, cluster=True).stdout.strip() == "OK"
    # a stable placement moves nothing
    again = run_bootstrap(script, ports, 1)
    assert again.returncode == 0 and "placement:" not in again.stdout, again.stdout

    port_of = {v: k for k, v in ids.items()}

    def reschedule_a_replica() -> None:
        """A replica's pod comes back on its master's node (it announces its new node)."""
        master_of = {r: m for m, rs in shards(ports[0]).items() for r in rs}
        replica = sorted(master_of)[0]
        host[replica] = host[master_of[replica]]
        cli(port_of[replica], "config", "set", "cluster-announce-human-nodename",
            f"redis-x/{host[replica]}")
        assert clashes(ports[0], host) == [(master_of[replica], replica)]

    def placed() -> bool:
        return clashes(ports[0], host) == [] and all(
            len(rs) == 1 for rs in shards(ports[0]).values())

    # the Job (the next `pulumi up`) re-points it; every master holds one replica, so two move
    reschedule_a_replica()
    third = run_bootstrap(script, ports, 1)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "replicating" in third.stdout, third.stdout
    wait_for(placed, 15, "the Job's placement")

    # between Jobs, the lowest-ID master's watch loop does the same
    reschedule_a_replica()
    watchers = {p: servers.start(
        ["sh", str(script), "watch", f"127.0.0.1:{p}"], workdir / f"place-{p}.log",
        env={"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD, "HEAL_INTERVAL": "1",
             "PLACE_EVERY": "2", "HEAL_BEAT_FILE": str(workdir / f"beat-{p}")})
        for p in ports}
    began = time.monotonic()
    wait_for(placed, 30, "the watch loop's placement")
    print(f"re-pointed {time.monotonic() - began:.1f} s after the move")
    logs = {p: (workdir / f"place-{p}.log").read_text() for p in ports}
    leader = port_of[min(m for m, rs in shards(ports[0]).items())]
    assert [p for p, text in logs.items() if "replicating" in text] == [leader], logs
    for k, v in keys.items():  # the replica re-synced from its new master; nothing lost
        assert cli(ports[0], "get", k, cluster=True) == v
    for w in watchers.values():
        servers.stop(w)


class Dns:
    """The pods' DNS for the heal sidecars: a `getent` first on PATH that answers from a file,
    so a test can move a stable name to a new address as Kubernetes does for a rescheduled pod.
    (The servers are real; only name resolution is the test's.)"""

    def __init__(self, workdir: Path) -> None:
        self.bin, self.hosts = workdir / "dns-bin", workdir / "hosts"
        self.bin.mkdir()
        getent = self.bin / "getent"
        getent.write_text('#!/bin/sh\n[ "$1" = hosts ] || exit 2\n'
                          f'awk -v h="$2" \'$2 == h {{ print; f = 1 }} END {{ exit !f }}\' '
                          f'"{self.hosts}"\n')
        getent.chmod(0o755)

    def point(self, names: list[str], ip: str) -> None:
        self.hosts.write_text("".join(f"{ip} {n}\n" for n in names))

    def path(self) -> str:
        return f"{self.bin}:{os.environ['PATH']}"


def owner(key: str, ports: list[int], ip: str) -> int:
    """The port of the master that serves `key`'s slot (redis-cli -c would follow MOVED to the
    announced hostname, which only the test's `getent` resolves)."""
    slot = int(cli(ports[0], "cluster", "keyslot", key, ip=ip))
    for line in cli(ports[0], "cluster", "nodes", ip=ip).splitlines():
        f = line.split()
        if "master" not in f[2]:
            continue
        for r in f[8:]:
            lo, _, hi = r.partition("-")
            if not r.startswith("[") and int(lo) <= slot <= int(hi or lo):
                return int(re.match(r"[^:]*:(\d+)", f[1]).group(1))
    raise AssertionError(f"no master serves slot {slot}")


def watch(servers, script: Path, workdir: Path, port: int, ip: str, dns: Dns):
    """One pod's heal sidecar: `bootstrap.sh watch` on its own node, checking every second."""
    env = {"PATH": dns.path(), "REDISCLI_AUTH": PASSWORD, "HEAL_INTERVAL": "1",
           "HEAL_BEAT_FILE": str(workdir / f"beat-{ip}-{port}")}
    return servers.start(["sh", str(script), "watch", f"{ip}:{port}"],
                         workdir / f"heal-{ip}-{port}.log", env=env)


def test_cluster_heals_when_every_node_restarts_on_a_new_address(servers, workdir):
    """All pods rescheduled at once: nodes.conf holds stale IPs. Each pod's heal sidecar
    (`bootstrap.sh watch`) meets the members again at the addresses their announced names
    resolve to now: no Job, no manual step."""
    stack = load("phase2").stack
    ports = [free_port() for _ in range(stack.redis.pods)]
    buses = {p: free_port() for p in ports}
    names = {p: f"redis-{i}.redis-headless.test" for i, p in enumerate(ports)}
    dns = Dns(workdir)
    dns.point(list(names.values()), "127.0.0.1")
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    procs = [start(servers, stack, workdir, f"n{p}", p, hostname=names[p], cluster_port=buses[p],
                   node_timeout_ms=1000) for p in ports]
    # the sidecars run from the pods' start, before the bootstrap: they leave fresh nodes alone
    # (`--cluster create` refuses a node that knows another)
    watchers = [watch(servers, script, workdir, p, "127.0.0.1", dns) for p in ports]
    for port in ports:
        wait_for(lambda p=port: cli(p, "ping") == "PONG", 15, f"redis node {port}")
    created = run_bootstrap(script, ports, 1)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "creating the cluster" in created.stdout
    ids = {n["id"] for n in nodes_table(ports[0])}
    keys = {f"user:{i}": str(i) for i in range(30)}
    for k, v in keys.items():
        assert cli(owner(k, ports, "127.0.0.1"), "set", k, v) == "OK"
    # a healthy cluster: the sidecars do nothing (they met peers only while it was forming)
    def heal_log() -> list[str]:
        return [(workdir / f"heal-127.0.0.1-{p}.log").read_text() for p in ports]
    settled = heal_log()
    time.sleep(3)  # three of the watchers' intervals
    assert heal_log() == settled
    for proc in procs + watchers:  # a shutdown flushes the AOF (appendonly yes): keys survive
        servers.stop(proc)

    def restart_on(ip: str) -> None:  # every pod rescheduled: same names, a new address
        dns.point(list(names.values()), ip)
        for p in ports:
            start(servers, stack, workdir, f"n{p}", p, ip=ip, hostname=names[p],
                  cluster_port=buses[p], node_timeout_ms=1000)
        for port in ports:
            wait_for(lambda p=port: cli(p, "ping", ip=ip) == "PONG", 15, f"node {port} on {ip}")

    moved = "127.0.0.2"  # same ports, new address: nothing listens on the old one any more
    restart_on(moved)
    assert cluster_info(ports[0], moved)["cluster_state"] != "ok"
    began = time.monotonic()
    for p in ports:
        watch(servers, script, workdir, p, moved, dns)
    # every replica re-syncs from a master at its new address: slow on a loaded CI machine
    for port in ports:
        wait_for(lambda p=port: cluster_info(p, moved)["cluster_state"] == "ok", 120,
                 f"cluster_state:ok on {port}")
    print(f"healed in {time.monotonic() - began:.1f} s after the last node answered")
    assert any("cluster not ok, meeting" in (workdir / f"heal-{moved}-{p}.log").read_text()
               for p in ports)
    table = nodes_table(ports[0], moved)
    assert {n["id"] for n in table} == ids  # same cluster, not a new one
    assert sum("master" in n["flags"] for n in table) == 3
    for k, v in keys.items():
        assert cli(owner(k, ports, moved), "get", k, ip=moved) == v

    # the Job, run again (e.g. by the next `pulumi up`), finds a healthy cluster
    again = run_bootstrap(script, ports, 1, ip=moved)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "re-introducing" not in again.stdout

    # without the sidecars (e.g. pods of an older template), the Job heals the same way
    for proc in list(servers.procs):
        servers.stop(proc)
    third = "127.0.0.3"
    restart_on(third)
    env = {**script_env(ports, 1, third, BOOTSTRAP_TIMEOUT="120"), "PATH": dns.path()}
    healed = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True,
                            timeout=720)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "cluster not ok, re-introducing nodes" in healed.stdout
    assert {n["id"] for n in nodes_table(ports[0], third)} == ids
    for k, v in keys.items():
        assert cli(owner(k, ports, third), "get", k, ip=third) == v


def test_cluster_grows_from_phase2_to_phase3(servers, workdir):
    """The phase3 Job finds the phase2 cluster, adds 3 masters and 3 replicas, moves slots."""
    phase2, phase3 = load("phase2").stack, load("phase3").stack
    ports = [free_port() for _ in range(phase3.redis.pods)]
    for p in ports:
        start(servers, phase2, workdir, f"g{p}", p, cluster_port=free_port(),
              node_timeout_ms=1000)
    for port in ports:
        wait_for(lambda p=port: cli(p, "ping") == "PONG", 15, f"redis node {port}")
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    small = run_bootstrap(script, ports[:phase2.redis.pods], phase2.redis.replicas_per_master)
    assert small.returncode == 0, small.stdout + small.stderr
    assert cluster_info(ports[0])["cluster_size"] == "3"
    keys = {f"rate:{i}": str(i) for i in range(40)}
    for k, v in keys.items():
        assert cli(ports[0], "set", k, v, cluster=True) == "OK"

    grown = run_bootstrap(script, ports, phase3.redis.replicas_per_master)
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert grown.stdout.count("as a master") == 3 and grown.stdout.count("as a replica of") == 3
    for port in ports:
        info = cluster_info(port)
        assert (info["cluster_state"], info["cluster_size"]) == ("ok", "6")
    table = nodes_table(ports[0])
    masters = [n for n in table if "master" in n["flags"]]
    replicas = [n for n in table if "slave" in n["flags"]]
    assert len(masters) == 6 and len(replicas) == 6
    assert sorted(n["master"] for n in replicas) == sorted(n["id"] for n in masters)
    for k, v in keys.items():
        assert cli(ports[-1], "get", k, cluster=True) == v

    again = run_bootstrap(script, ports, phase3.redis.replicas_per_master)
    assert again.returncode == 0 and "as a master" not in again.stdout
    assert "moving slots" not in again.stdout


def test_bootstrap_refuses_a_former_standalone_node_that_holds_keys(servers, workdir):
    """phase1 -> phase2: redis-0 keeps its standalone data; the Job says what to do, exits 1."""
    phase1, phase2 = load("phase1").stack, load("phase2").stack
    ports = [free_port() for _ in range(3)]
    old = start(servers, phase1, workdir, f"k{ports[0]}", ports[0])
    wait_for(lambda: cli(ports[0], "ping") == "PONG", 15, "standalone redis")
    for i in range(5):
        assert cli(ports[0], "set", f"session:{i}", "v") == "OK"
    servers.stop(old)  # a shutdown flushes the AOF (appendonly yes): the keys survive
    for p in ports:  # the same data directory, now with the cluster config
        start(servers, phase2, workdir, f"k{p}", p, cluster_port=free_port(),
              node_timeout_ms=1000)
    for port in ports:
        wait_for(lambda p=port: cli(p, "ping") == "PONG", 15, f"redis node {port}")
    assert cli(ports[0], "dbsize") == "5"

    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    refused = run_bootstrap(script, ports, 0)
    assert refused.returncode != 0
    # it claimed its keys' slots on start, but it is in no cluster
    assert f"127.0.0.1:{ports[0]} holds 5 key(s) and owns" in refused.stderr, refused.stderr
    assert "knows no other node" in refused.stderr
    steps = [f"-p {ports[0]} --rdb", f"-p {ports[0]} FLUSHALL", f"-p {ports[0]} CLUSTER RESET",
             "run this Job again", "--cluster import"]
    for step in steps:
        assert step in refused.stderr, refused.stderr
    assert "creating the cluster" not in refused.stdout
    assert cluster_info(ports[1])["cluster_known_nodes"] == "1"  # nothing was touched

    # the way out the message gives: snapshot, empty, release the slots, run again
    snapshot = workdir / "standalone.rdb"
    subprocess.run([require("redis-cli"), "-h", "127.0.0.1", "-p", str(ports[0]), "--rdb",
                    str(snapshot)], env={"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD},
                   capture_output=True, timeout=20, check=True)
    assert snapshot.read_bytes().startswith(b"REDIS") and b"session:4" in snapshot.read_bytes()
    assert cli(ports[0], "flushall") == "OK" and cli(ports[0], "cluster", "reset") == "OK"
    again = run_bootstrap(script, ports, 0)
    assert again.returncode == 0, again.stdout + again.stderr
    assert cluster_info(ports[0])["cluster_state"] == "ok"

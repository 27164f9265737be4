"""The rendered runbooks' Redis and PostgreSQL commands, executed in order against Debian's
real servers (issue 12 item 10: a standalone -> Cluster runbook ran FLUSHALL without CLUSTER
RESET and the bootstrap Job then exited 1). Every command of a step is either run here,
rewritten only for addresses (the pod's 6379 and /data become this test's port and
directory), or mapped to what Kubernetes would do; a command this test does not know fails it,
so a runbook cannot drift from what works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from phasestack.stackfile import load
from phasestack.transitions import runbook
from tests.integration.conftest import free_port, require, wait_for
from tests.integration.pg_helpers import PgCluster, run_as_postgres, start_cluster, write
from tests.integration.test_redis_server import (
    PASSWORD,
    bootstrap_script,
    cli,
    cluster_info,
    nodes_table,
    run_bootstrap,
    start,
)
from tests.unit.conftest import statefulset

REDIS_POD = 'kubectl exec -n "$NS" redis-0 -c redis -- '


def step(a: str, b: str, title_start: str, engine: str | None = None) -> runbook.Step:
    """`engine` statefulset: both stacks on phasestack's own StatefulSets (the phase2 and
    phase3 presets run CloudNativePG)."""
    sa, sb = load(a).stack, load(b).stack
    if engine == "statefulset":
        sa, sb = statefulset(sa), statefulset(sb)
    rb = runbook.runbook(sa, sb, a, b)
    [found] = [s for s in rb.steps if s.title.startswith(title_start)]
    return found


def action_for(command: str, actions: dict):
    """What Kubernetes would do for a platform command (the longest matching prefix wins), or
    None for a command this test runs itself."""
    return next((f for prefix, f in sorted(actions.items(), key=lambda kv: -len(kv[0]))
                 if command.startswith(prefix)), None)


def in_pod(command: str, port: int, temp_port: int, data: str) -> str:
    """A command run inside redis-0, as it runs here: same text, this test's addresses."""
    c = command.removeprefix(REDIS_POD)
    c = c.replace("--dir /data", f"--dir {data}").replace("/data/", f"{data}/")
    c = c.replace("127.0.0.1:6379", f"127.0.0.1:{port}").replace("6390", str(temp_port))
    if c.startswith("redis-cli ") and " -p " not in c and "--cluster" not in c:
        c = c.replace("redis-cli ", f"redis-cli -p {port} ", 1)
    if "--cluster" in c and c.startswith("redis-cli "):  # a cluster command names its node
        c = c.replace("redis-cli ", "redis-cli --no-auth-warning ", 1)
    return c


def test_standalone_to_cluster_runbook_runs_on_real_servers(servers, workdir):
    phase1, phase2 = load("phase1").stack, load("phase2").stack
    s = step("phase1", "phase2", "Redis: standalone")
    ports = [free_port() for _ in range(phase2.redis.pods)]
    temp_port = free_port()
    data = workdir / f"k{ports[0]}"
    old = start(servers, phase1, workdir, f"k{ports[0]}", ports[0])
    wait_for(lambda: cli(ports[0], "ping") == "PONG", 15, "standalone redis")
    sessions = {f"session:{i}": f"user-{i}" for i in range(40)}
    for k, v in sessions.items():
        assert cli(ports[0], "set", k, v) == "OK"
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD}
    bootstrap = None

    def apply_redis() -> None:  # the StatefulSet rolls redis-0 onto the cluster config
        servers.stop(old)
        for p in ports:
            start(servers, phase2, workdir, f"k{p}", p, cluster_port=free_port(),
                  node_timeout_ms=1000)

    def apply_bootstrap() -> None:
        nonlocal bootstrap
        bootstrap = run_bootstrap(script, ports, phase2.redis.replicas_per_master)

    actions = {
        "kubectl cp ": lambda: None,  # the snapshot is already where this test reads it
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis-cluster-bootstrap':
            apply_bootstrap,
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis': apply_redis,
        'kubectl rollout status -n "$NS" statefulset/redis': lambda: [
            wait_for(lambda p=p: cli(p, "ping") == "PONG", 15, f"node {p}") for p in ports],
        'kubectl wait -n "$NS" --for=condition=complete job/redis-cluster-bootstrap': lambda: (
            None if bootstrap.returncode == 0 else
            (_ for _ in ()).throw(AssertionError(bootstrap.stdout + bootstrap.stderr))),
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api': lambda: None,
        'kubectl rollout status -n "$NS" deployment/api': lambda: None,
    }
    ran = []
    try:
        for command in s.commands:
            if command.startswith("#"):
                continue
            action = action_for(command, actions)
            if action is not None:
                action()
                continue
            assert command.startswith(REDIS_POD), f"a command this test does not know: {command}"
            local = in_pod(command, ports[0], temp_port, str(data))
            done = subprocess.run(["bash", "-c", local], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            assert "ERR" not in done.stdout, (command, done.stdout)
            ran.append(local)
    finally:  # the runbook's temporary server daemonizes; never leave it behind
        subprocess.run([require("redis-cli"), "-p", str(temp_port), "shutdown", "nosave"],
                       env={"PATH": os.environ["PATH"]}, capture_output=True, timeout=10)
    assert any("CLUSTER RESET" in c for c in ran) and any("--cluster import" in c for c in ran)
    # the cluster formed around the former standalone node and holds every session again
    for p in ports:
        assert cluster_info(p)["cluster_state"] == "ok"
    for k, v in sessions.items():
        assert cli(ports[0], "get", k, cluster=True) == v
    assert shutil.which("redis-server")


# --- PostgreSQL -------------------------------------------------------------------------------

PG_POD = re.compile(r'^kubectl exec (-i )?-n "\$NS" (postgres(-replica)?-0) -c postgres -- ')
PG_HOST = re.compile(r"^docker exec (-i )?-u postgres \S+-postgres ")
# commands a test cannot run (the platform's own): each is named so a new one fails the test
PLATFORM = ("pulumi up", "phasestack plan", "phasestack render", "kubectl rollout status",
            "kubectl wait -n \"$NS\" --for=delete pod/",
            "kubectl apply", "kubectl get svc", "kubectl delete -n \"$NS\" hpa", "kubectl scale",
            "docker stop", "docker ps", "curl ")


def run_pg_commands(commands: list[str], where: dict[str, tuple[PgCluster, int]],
                    workdir) -> list[str]:
    """Run each PostgreSQL command of a step on the server it names: `where` maps "host",
    "postgres-0" and "postgres-replica-0" to (cluster, port). The dump files land in workdir."""
    outputs = []
    for command in commands:
        pod, host = PG_POD.match(command), PG_HOST.match(command)
        if pod or host:
            cluster, port = where[pod.group(2) if pod else "host"]
            body = command[(pod or host).end():]
            done = run_as_postgres(["bash", "-c", f"cd {workdir} && {body}"], {
                "PGHOST": str(cluster.socket_dir), "PGPORT": str(port)}, check=False)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            outputs.append(done.stdout.strip())
        else:
            assert command.startswith(PLATFORM), f"a command this test does not know: {command}"
    return outputs


def seed(c: PgCluster, port: int) -> None:
    c.psql_app(port, "CREATE TABLE orders (id int PRIMARY KEY, total numeric);"
                     "INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 500) g;"
                     "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);"
                     "INSERT INTO users SELECT g, 'u' || g || '@example.com' "
                     "FROM generate_series(1, 50) g")


def test_docker_to_kubernetes_runbook_moves_the_database(servers, workdir):
    """The target-move runbook (issue 12 item 3) run both ways: pg_dump on one side,
    pg_restore on the other, the table count check; every row arrives, owned by the app."""
    for a, b in (("mvp-docker", "mvp"), ("mvp", "mvp-docker")):
        here = workdir / f"{a}-to-{b}"
        here.mkdir(mode=0o777)
        here.chmod(0o777)
        (here / "a").mkdir(mode=0o777)
        (here / "b").mkdir(mode=0o777)
        for d in (here / "a", here / "b"):
            d.chmod(0o777)
        old = start_cluster(load(a).stack, servers, here / "a")
        new = start_cluster(load(b).stack, servers, here / "b")
        seed(old, old.primary_port)
        side = {"host": None, "postgres-0": None}
        if load(a).stack.target == "docker":
            side = {"host": (old, old.primary_port), "postgres-0": (new, new.primary_port)}
        else:
            side = {"postgres-0": (old, old.primary_port), "host": (new, new.primary_port)}
        s = step(a, b, "Move PostgreSQL")
        out = run_pg_commands(s.commands, side, here)
        assert out[-1] == "2"  # the count check: both tables
        assert new.psql_app(new.primary_port, "SELECT count(*), sum(total) FROM orders"
                            ).stdout.strip() == "500|187875.0"
        owner = new.psql_app(new.primary_port, "SELECT tableowner FROM pg_tables "
                             "WHERE tablename = 'users'").stdout.strip()
        assert owner == load(b).stack.postgres.app_user
        # every other command of the move is one the platform runs
        rb = runbook.runbook(load(a).stack, load(b).stack, a, b)
        for other in rb.steps:
            if other.title != s.title:
                run_pg_commands(other.commands, side, here)


def test_read_replica_runbook_queries_run_on_real_servers(servers, workdir):
    """phase1 -> phase2: the prepare step's pg_dump and the read-replica step's checks."""
    old = start_cluster(load("phase2").stack, servers, workdir)
    seed(old, old.primary_port)
    wait_for(lambda: old.psql_super(old.primary_port,
                                    "SELECT state FROM pg_stat_replication") == "streaming",
             timeout=20, what="replica streaming")
    where = {"postgres-0": (old, old.primary_port),
             "postgres-replica-0": (old, old.replica_port)}
    prepare = step("phase1", "phase2", "Prepare", "statefulset")
    run_pg_commands(prepare.commands, where, workdir)
    assert (workdir / "before-phase2.dump").read_bytes().startswith(b"PGDMP")
    replicas = step("phase1", "phase2", "PostgreSQL: read replicas", "statefulset")
    out = run_pg_commands(replicas.commands, where, workdir)
    assert out[0].split("|")[1:3] == ["streaming", "async"], out
    assert out[1].startswith("t|"), out  # the replica is in recovery and replaying


def test_replica_scale_down_runbook_drops_the_removed_replicas_slots(servers, workdir):
    """phase3 -> phase2 (3 -> 1 replicas): the slots of postgres-replica-1 and -2 are dropped
    on the real primary, and the one still in use is kept."""
    c = start_cluster(load("phase2").stack, servers, workdir)
    for pod in ("postgres_replica_1", "postgres_replica_2"):  # as their clones left them
        c.psql_super(c.primary_port, f"SELECT pg_create_physical_replication_slot('{pod}')")
    s = step("phase3", "phase2", "PostgreSQL: read replicas", "statefulset")
    run_pg_commands(s.commands, {"postgres-0": (c, c.primary_port)}, workdir)
    left = c.psql_super(c.primary_port, "SELECT slot_name FROM pg_replication_slots")
    assert left.split() == ["postgres_replica_0"]


def start_cluster_nodes(servers, stack, workdir, ports: list[int]) -> None:
    for p in ports:
        start(servers, stack, workdir, f"c{p}", p, cluster_port=free_port(),
              node_timeout_ms=1000)
    for p in ports:
        wait_for(lambda p=p: cli(p, "ping") == "PONG", 15, f"redis node {p}")


def formed_cluster(servers, stack, workdir, ports: list[int], keys: dict[str, str]):
    """Nodes started from `stack`'s config, the bootstrap Job run, `keys` written; returns
    the bootstrap script for the runbook's later runs of the Job."""
    start_cluster_nodes(servers, stack, workdir, ports)
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    assert run_bootstrap(script, ports, stack.redis.replicas_per_master).returncode == 0
    for k, v in keys.items():
        assert cli(ports[0], "set", k, v, cluster=True) == "OK"
    return script


def run_cluster_step(commands: list[str], ports: list[int], actions: dict) -> None:
    """A Redis Cluster step's commands in order: platform commands mapped to `actions`, every
    other one (redis-cli inside redis-0, reaching pods by $(ip redis-N)) run on this test's
    nodes, consecutive ones in one shell so that ID=... carries over."""
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD}
    actions = {"ip() {": lambda: None, **actions}  # this test maps $(ip redis-N) itself

    def local(command: str) -> str:
        c = command.replace(REDIS_POD, "")
        for k in sorted(range(len(ports)), reverse=True):  # redis-11 before redis-1
            c = c.replace(f"-h $(ip redis-{k})", f"-h 127.0.0.1 -p {ports[k]}")
            c = c.replace(f"$(ip redis-{k}):6379", f"127.0.0.1:{ports[k]}")
        c = c.replace("127.0.0.1:6379", f"127.0.0.1:{ports[0]}")  # redis-0 itself
        assert "$(ip " not in c, f"a pod this test does not have: {command}"
        # inside redis-0 a bare redis-cli talks to redis-0 itself
        return re.sub(r"redis-cli (?!--cluster|-h )", f"redis-cli -p {ports[0]} ", c)

    shell: list[str] = []

    def flush() -> None:
        if shell:
            # the runbook's own waits bound a batch (each settle loop up to 2 min, a rebalance
            # of thousands of slots minutes on a slow machine): 300 s timed out in CI
            done = subprocess.run(["bash", "-exc", "\n".join(shell)], env=env,
                                  capture_output=True, text=True, timeout=1200)
            if done.returncode:
                print(done.stdout[-3000:], done.stderr[-1500:])
                for p in ports:  # each node's own view, to say which one disagreed
                    print(p, subprocess.run(["redis-cli", "-p", str(p), "cluster", "nodes"],
                                            env=env, capture_output=True, text=True).stdout)
            assert done.returncode == 0, (shell, done.stdout[-2000:], done.stderr[-2000:])
            assert "[ERR]" not in done.stdout, done.stdout[-2000:]
            # redis-cli exits 0 on an error reply: none may go unnoticed
            errors = [ln for ln in (done.stdout + done.stderr).splitlines()
                      if ln.startswith(("ERR ", "(error)", "STOP:"))]
            assert not errors, errors
            shell.clear()

    for command in commands:
        action = action_for(command, actions)
        if action is not None:
            flush()
            action()
            continue
        assert REDIS_POD in command, f"a command this test does not know: {command}"
        shell.append(local(command))
    flush()


def masters_and_replicas(port: int) -> dict[str, list[int]]:
    """Each master's port -> its replicas' ports, as the node on `port` sees the cluster."""
    rows = nodes_table(port)
    by_id = {n["id"]: n["port"] for n in rows}
    return {n["port"]: sorted(by_id[r["id"]] for r in rows if r["master"] == n["id"])
            for n in rows if "master" in n["flags"]}


def test_cluster_growth_runbook_runs_on_real_servers(servers, workdir):
    """phase2 -> phase3: the runbook's add-node, replica and rebalance commands, in order, on a
    real 6-node cluster growing to 12; every key survives and the bootstrap Job that runs
    after them finds nothing left to do."""
    phase2, phase3 = load("phase2").stack, load("phase3").stack
    s = step("phase2", "phase3", "Redis Cluster:")
    ports = [free_port() for _ in range(phase3.redis.pods)]
    small = phase2.redis.pods
    keys = {f"rate:{i}": str(i) for i in range(60)}
    script = formed_cluster(servers, phase2, workdir, ports[:small], keys)
    job = None

    def bootstrap() -> None:
        nonlocal job
        job = run_bootstrap(script, ports, phase3.redis.replicas_per_master)

    run_cluster_step(s.commands, ports, {
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis-cluster-bootstrap':
            bootstrap,
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis':
            lambda: start_cluster_nodes(servers, phase3, workdir, ports[small:]),
        'kubectl rollout status -n "$NS" statefulset/redis': lambda: [
            wait_for(lambda p=p: cli(p, "ping") == "PONG", 15, f"node {p}") for p in ports],
        'kubectl delete job -n "$NS" redis-cluster-bootstrap': lambda: None,
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api': lambda: None,
        'kubectl rollout status -n "$NS" deployment/api': lambda: None,
    })
    assert job is not None and job.returncode == 0, job.stdout + job.stderr
    assert "as a master" not in job.stdout  # the runbook had already added every node
    for p in ports:
        info = cluster_info(p)
        assert (info["cluster_state"], info["cluster_size"]) == ("ok", "6"), (p, info)
    for k, v in keys.items():
        assert cli(ports[-1], "get", k, cluster=True) == v


def shrink_actions(servers, ports: list[int], keep: int, deleted: list[str],
                   more: dict) -> dict:
    """What Kubernetes does for the shrink step's platform commands: scaling the StatefulSet
    down stops the pods past `keep` (del-node has already shut them down)."""
    def scale_down() -> None:
        for proc in list(servers.procs):
            if proc.poll() is None and any(f"c{p}" in " ".join(map(str, proc.args))
                                           for p in ports[keep:]):
                servers.stop(proc)
    return {'kubectl rollout status -n "$NS" statefulset/redis': lambda: [
                wait_for(lambda p=p: cli(p, "ping") == "PONG", 15, f"node {p}")
                for p in ports[:keep]],
            'kubectl delete pvc -n "$NS" ': lambda: deleted.append("pvc"),
            'kubectl delete job -n "$NS" redis-cluster-bootstrap': lambda: None,
            # the Job ran to its end inside the apply action (run_bootstrap); checked after
            'kubectl wait -n "$NS" --for=condition=complete job/redis-cluster-bootstrap':
                lambda: None,
            'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api':
                lambda: None,
            'kubectl rollout status -n "$NS" deployment/api': lambda: None,
            'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis': scale_down,
            **more}


def test_cluster_shrink_runbook_runs_on_real_servers(servers, workdir):
    """phase3 -> phase2: 6 masters -> 3 on a real 12-node cluster, after a failover left a kept
    master a replica of a pod that goes. Every key survives; the 6 pods left are 3 masters with
    one replica each, and the phase2 bootstrap Job finds nothing to do."""
    phase2, phase3 = load("phase2").stack, load("phase3").stack
    s = step("phase3", "phase2", "Redis:")
    assert s.title.startswith("Redis: cluster 6 masters x 1 replica(s) (12 pods,"), s.title
    assert "-> cluster 3 masters x 1 replica(s) (6 pods," in s.title, s.title
    assert not any(re.search(r"<[a-z-]+>", c) for c in s.commands), s.commands  # no placeholders
    ports = [free_port() for _ in range(phase3.redis.pods)]
    keep = phase2.redis.pods
    keys = {f"session:{i}": str(i) for i in range(200)}
    script = formed_cluster(servers, phase3, workdir, ports, keys)
    # redis-1 stays a master; make it the replica of a pod that goes (a failover did that)
    [replica] = masters_and_replicas(ports[0])[ports[1]]
    assert replica in ports[keep:]
    # a manual failover has a fixed 5 s to win its vote, which a loaded 2-core host let time
    # out (twice in fresh-clone CI runs, 2026-12-04): asked again until it takes (TAKEOVER,
    # which needs no vote, lost a key here)
    def failed_over() -> bool:
        return ports[1] in masters_and_replicas(ports[0]).get(replica, [])

    for _ in range(8):
        assert cli(replica, "cluster", "failover") == "OK"
        try:
            wait_for(failed_over, 15, "failover")
            break
        except AssertionError:
            continue
    assert failed_over(), "the manual failover never took"
    job, deleted = None, []

    def bootstrap() -> None:
        nonlocal job
        job = run_bootstrap(script, ports[:keep], phase2.redis.replicas_per_master)

    run_cluster_step(s.commands, ports, shrink_actions(servers, ports, keep, deleted, {
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis-cluster-bootstrap':
            bootstrap}))
    assert job is not None and job.returncode == 0, job.stdout + job.stderr
    assert "as a master" not in job.stdout and "creating the" not in job.stdout, job.stdout
    assert deleted == ["pvc"]
    for p in ports[:keep]:
        info = cluster_info(p)
        assert (info["cluster_state"], info["cluster_size"], info["cluster_known_nodes"]) == (
            "ok", "3", "6"), (p, info)
    shape = masters_and_replicas(ports[0])
    assert sorted(shape) == sorted(ports[:3]) and all(len(r) == 1 for r in shape.values()), shape
    for k, v in keys.items():
        assert cli(ports[keep - 1], "get", k, cluster=True) == v


def test_cluster_to_standalone_runbook_runs_on_real_servers(servers, workdir):
    """phase2 -> phase1: every slot onto redis-0, the other 5 nodes removed, redis-0 restarted
    as a standalone Redis on the same directory: it serves every key."""
    phase1, phase2 = load("phase1").stack, load("phase2").stack
    s = step("phase2", "phase1", "Redis:")
    assert " -> standalone (" in s.title, s.title
    ports = [free_port() for _ in range(phase2.redis.pods)]
    keys = {f"session:{i}": str(i) for i in range(200)}
    formed_cluster(servers, phase2, workdir, ports, keys)
    deleted: list[str] = []
    actions = shrink_actions(servers, ports, 1, deleted, {})
    scale_down = actions['kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis']

    def to_standalone() -> None:  # scaled to 1; redis-0 restarts on the standalone config
        scale_down()
        cli(ports[0], "shutdown")  # SIGTERM in a pod: saves as configured
        wait_for(lambda: not any(p.poll() is None and f"c{ports[0]}" in " ".join(map(str, p.args))
                                 for p in servers.procs), 15, "redis-0 stopped")
        start(servers, phase1, workdir, f"c{ports[0]}", ports[0])

    actions['kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis'] = to_standalone
    run_cluster_step(s.commands, ports, actions)
    assert deleted == ["pvc"]
    assert cli(ports[0], "info", "cluster").splitlines()[-1] == "cluster_enabled:0"
    assert cli(ports[0], "dbsize") == str(len(keys))
    for k, v in keys.items():
        assert cli(ports[0], "get", k) == v


def test_more_replicas_runbook_runs_on_real_servers(servers, workdir):
    """phase2 with 2 replicas per master: the 3 new pods join as replicas (the bootstrap Job
    run again), no slot moves, every master ends with 2 replicas."""
    a = load("phase2").stack
    b = a.model_copy(update={"redis": a.redis.model_copy(update={"replicas_per_master": 2})})
    [s] = [s for s in runbook.runbook(a, b, "phase2", "more").steps
           if s.title.startswith("Redis Cluster:")]
    ports = [free_port() for _ in range(b.redis.pods)]
    script = formed_cluster(servers, a, workdir, ports[:a.redis.pods], {})
    before = {n["id"]: n["port"] for n in nodes_table(ports[0]) if "master" in n["flags"]}
    job = None

    def bootstrap() -> None:
        nonlocal job
        job = run_bootstrap(script, ports, 2)

    run_cluster_step(s.commands, ports, {
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis-cluster-bootstrap':
            bootstrap,
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis':
            lambda: start_cluster_nodes(servers, b, workdir, ports[a.redis.pods:]),
        'kubectl rollout status -n "$NS" statefulset/redis': lambda: None,
        'kubectl delete job -n "$NS" redis-cluster-bootstrap': lambda: None,
        'kubectl wait -n "$NS" --for=condition=complete job/redis-cluster-bootstrap':
            lambda: None if job.returncode == 0 else pytest.fail(job.stdout + job.stderr),
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=api': lambda: None,
        'kubectl rollout status -n "$NS" deployment/api': lambda: None,
    })
    assert "moving slots" not in job.stdout, job.stdout
    shape = masters_and_replicas(ports[0])
    assert sorted(shape) == sorted(before.values()), shape  # the same masters
    assert all(len(r) == 2 for r in shape.values()), shape


def variant_runbook(a: str, **postgres_update) -> tuple[runbook.Runbook, object, object]:
    sa = load(a).stack
    sb = sa.model_copy(update={"postgres": sa.postgres.model_copy(update=postgres_update)})
    return runbook.runbook(sa, sb, a, f"{a}-changed"), sa, sb


def test_restart_step_query_names_the_pending_setting(servers, workdir):
    """A max_connections change needs a restart: after the new config is applied (here: the
    rendered file rewritten and reloaded), the runbook's query lists it as pending."""
    from phasestack.synth import postgres

    rb, a, b = variant_runbook("mvp", max_connections=300)
    [s] = [x for x in rb.steps if x.title == "PostgreSQL: settings that need a restart"]
    c = start_cluster(a, servers, workdir)

    def apply_new_config() -> None:
        write(workdir / "primary.conf", postgres.postgresql_conf(
            b, listen_addresses="127.0.0.1", port=c.primary_port,
            unix_socket_dir=str(c.socket_dir), hba_file=str(workdir / "pg_hba.conf")))
        c.psql_super(c.primary_port, "SELECT pg_reload_conf()")

    out = []
    for command in s.commands:
        if command.startswith("kubectl apply"):
            apply_new_config()
        else:
            out += run_pg_commands([command], {"postgres-0": (c, c.primary_port)}, workdir)
    assert out == ["max_connections|200|t"], out


def test_pgbouncer_step_checks_both_databases_through_pgbouncer(servers, workdir):
    """mvp -> phase1: the two psql checks through PgBouncer, as the operator runs them over
    the port-forward (here: the rendered pgbouncer.ini on its own port)."""
    from tests.integration.test_pgbouncer_server import start_pgbouncer

    phase1 = load("phase1").stack
    c = start_cluster(phase1, servers, workdir)
    port = start_pgbouncer(phase1, c, servers, workdir)
    s = step("mvp", "phase1", "PgBouncer in front of PostgreSQL")
    answers = []
    for command in s.commands:
        if command.startswith("psql "):
            local = command.replace("port=6432", f"port={port}")
            done = subprocess.run(["bash", "-c", local], capture_output=True, text=True,
                                  env={"PATH": os.environ["PATH"], "PGPASSWORD": c.app_password},
                                  timeout=30)
            assert done.returncode == 0, (command, done.stderr)
            answers.append(done.stdout.split())
        else:
            assert command.startswith(("kubectl apply", "kubectl rollout status",
                                       "kubectl port-forward")), command
    # SELECT 1 on the read-write database; app_ro is the primary until phase1 has replicas
    assert answers[0][2] == "1" and answers[1][2] == "f", answers

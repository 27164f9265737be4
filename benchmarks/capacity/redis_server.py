"""Redis (the image's Valkey, toolchain/valkey.sh): ops/s of one server with the rendered
redis.conf (AOF on, as rendered), and of one master of a Cluster started from the rendered
cluster config and bootstrap script, each on a CPU of its own. redis-benchmark runs the app
profile's mix as the API does it, one round-trip at a time: GET a session of session_bytes,
SET a rate-limit key of rate_limit_key_bytes (review 002, Redis Operations Breakdown)."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from benchmarks.capacity.common import LOAD_CPU, SERVER_CPU, Row, pin, pinned
from phasestack.model import Stack
from phasestack.synth import redis
from phasestack.synth.redis_cluster import bootstrap_script
from tests.integration.conftest import Servers, free_port, require, wait_for
from tests.integration.test_redis_server import (
    APP_PASSWORD,
    cli,
    nodes_table,
    run_bootstrap,
    start,
)

CLIENTS = 50
KEYS = 100_000


def _bench(port: int, requests: int, command: list[str]) -> float:
    """requests/s of one command, `__rand_int__` in its key drawn from KEYS keys."""
    out = subprocess.run(
        pinned([require("redis-benchmark"), "-h", "127.0.0.1", "-p", str(port), "--user",
                redis.APP_USER, "-a", APP_PASSWORD, "-c", str(CLIENTS), "-n", str(requests),
                "-r", str(KEYS), "--csv", *command], LOAD_CPU),
        capture_output=True, text=True, timeout=600, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return float(rows[-1]["rps"])


def _mix(port: int, stack: Stack, requests: int, tag: str = "") -> tuple[float, str]:
    """ops/s of the mix: one GET of a session and one SET of a rate-limit key, alternating
    (the harmonic mean of the two rates: each operation takes its own time)."""
    app = stack.app
    key = f"{{{tag}}}:" if tag else ""
    _bench(port, KEYS, ["SET", f"{key}session:__rand_int__", "s" * app.session_bytes])
    get = _bench(port, requests, ["GET", f"{key}session:__rand_int__"])
    put = _bench(port, requests, ["SET", f"{key}rl:__rand_int__",
                                  "r" * app.rate_limit_key_bytes])
    return 2 / (1 / get + 1 / put), (f"GET {app.session_bytes} B {get:,.0f}/s, "
                                     f"SET {app.rate_limit_key_bytes} B {put:,.0f}/s")


def standalone(stack: Stack, servers: Servers, workdir: Path, requests: int) -> Row:
    port = free_port()
    proc = start(servers, stack, workdir, "standalone", port)
    wait_for(lambda: cli(port, "ping") == "PONG", 15, "redis-server")
    pin(proc.pid, SERVER_CPU)
    ops, said = _mix(port, stack, requests)
    return Row("redis.ops_per_master (standalone)", "ops/s", stack.redis.ops_per_master, ops,
               f"redis-benchmark {CLIENTS} clients, no pipelining, {requests:,} requests per "
               f"command over {KEYS:,} keys, the rendered redis.conf (appendonly "
               f"{'yes' if stack.redis.appendonly else 'no'}) on CPU {SERVER_CPU}, "
               f"redis-benchmark on CPU {LOAD_CPU}: {said}")


def _tag_of(port: int) -> str:
    """A hash tag whose slot the master on `port` serves (its CLUSTER NODES line's ranges)."""
    mine = next(line.split() for line in cli(port, "cluster", "nodes").splitlines()
                if "myself" in line.split()[2])
    owned = [tuple(int(x) for x in (r.split("-") * 2)[:2]) for r in mine[8:] if "[" not in r]
    for i in range(10_000):
        slot = int(cli(port, "cluster", "keyslot", f"t{i}"))
        if any(lo <= slot <= hi for lo, hi in owned):
            return f"t{i}"
    raise RuntimeError(f"no hash tag maps to the slots of the master on {port}")


def cluster_master(stack: Stack, servers: Servers, workdir: Path, requests: int) -> Row:
    r = stack.redis
    ports = [free_port() for _ in range(r.pods)]
    procs = {p: start(servers, stack, workdir, f"node{i}", p, cluster_port=free_port())
             for i, p in enumerate(ports)}
    for p in ports:
        wait_for(lambda p=p: cli(p, "ping") == "PONG", 15, f"redis node {p}")
    script = workdir / "bootstrap.sh"
    script.write_text(bootstrap_script(poll_seconds=0.2))
    done = run_bootstrap(script, ports, r.replicas_per_master)
    if done.returncode:
        raise RuntimeError(f"the cluster bootstrap failed: {done.stdout}{done.stderr}")
    wait_for(lambda: cli(ports[0], "cluster", "info").startswith("cluster_state:ok"), 30,
             "cluster_state:ok")
    master = next(p for p in ports if "master" in next(
        n for n in nodes_table(p) if "myself" in n["flags"])["flags"])
    # the master under test alone on its CPU; its replica and the other nodes with the load
    for p, proc in procs.items():
        pin(proc.pid, SERVER_CPU if p == master else LOAD_CPU)
    ops, said = _mix(master, stack, requests, _tag_of(master))
    return Row("redis.ops_per_master (Cluster)", "ops/s", r.ops_per_master, ops,
               f"one master of a {r.masters}-master Cluster with {r.replicas_per_master} "
               f"replica(s) each (the rendered cluster config and bootstrap script), keys "
               f"hash-tagged to its slots, on CPU {SERVER_CPU}; the other nodes and "
               f"redis-benchmark on CPU {LOAD_CPU}: {said}")

"""What postgres.cloudnativepg.synchronous: required promises, on real servers: a PostgreSQL 15
primary (Debian) with two streaming standbys, committing with the setting CloudNativePG makes
of `synchronous: {method: any, number: 1, dataDurability: required}` (its replication docs:
synchronous_standby_names = 'ANY 1 ("<cluster>-2","<cluster>-3")'), the Cluster's own
parameters on top, writers committing one row per transaction; the primary's whole process
tree is killed (a lost node), the most advanced standby is promoted (what the operator does),
and every commit a client saw acknowledged is on it. CloudNativePG's own failover (detection,
the lease) cannot run here: tests/e2e runs its operator against simulated pods.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest

from phasestack.model import Stack
from phasestack.synth import cnpg
from phasestack.synth.backup import conf_lines
from tests.integration.conftest import free_port, wait_for
from tests.integration.pg_helpers import start_cluster, start_standby

WRITERS = 4
WRITE_S = 6
STANDBYS = ("postgres-2", "postgres-3")  # the instances' names, their application_name


def stack() -> Stack:
    return Stack.for_phase("phase3", postgres={"engine": "cloudnativepg", "read_replicas": 2})


def kill_tree(data) -> None:
    """SIGKILL the postmaster of `data` and every process it started: nothing shuts down."""
    pid = int((data / "postmaster.pid").read_text().split()[0])
    children = [int(p) for p in os.listdir("/proc") if p.isdigit()
                and _ppid(int(p)) == pid]
    for p in [pid, *children]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    except (OSError, StopIteration):
        return None


@pytest.mark.parametrize("mode", ["required", "off"])
def test_quorum_commit_loses_no_acknowledged_transaction_when_the_primary_is_lost(mode, servers,
                                                                                  workdir):
    """required: none lost (asserted); off (asynchronous standbys): the same run, the loss
    printed beside it (it depends on timing: often a few commits, sometimes none)."""
    s = stack()
    params = cnpg.cluster(s)["spec"]["postgresql"]["parameters"]
    sync = {"synchronous_standby_names": "ANY 1 (" + ",".join(f'"{n}"' for n in STANDBYS) + ")"}
    c = start_cluster(s, servers, workdir, primary_extra=conf_lines(params),
                      replica_extra=conf_lines({**params, "cluster_name": STANDBYS[0]}))
    second = free_port()
    start_standby(c, servers, "replica2", second, "postgres-replica-1",
                  conf_lines({**params, "cluster_name": STANDBYS[1]}))
    ports = {STANDBYS[0]: c.replica_port, STANDBYS[1]: second}
    # set once the standbys exist, as the operator does: with none, every commit would wait
    names = sync["synchronous_standby_names"] if mode == "required" else ""
    c.psql_super(c.primary_port, f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
    c.psql_super(c.primary_port, "SELECT pg_reload_conf()")
    state = "quorum" if mode == "required" else "async"
    wait_for(lambda: c.psql_super(c.primary_port, "SELECT string_agg(application_name || '=' "
                                  "|| sync_state, ',' ORDER BY application_name) FROM "
                                  "pg_stat_replication") ==
             f"postgres-2={state},postgres-3={state}",
             timeout=30, what=f"both standbys streaming, {state}")
    c.psql_app(c.primary_port, "CREATE TABLE ledger (id bigint PRIMARY KEY, w int)")

    dsn = (f"host=127.0.0.1 port={c.primary_port} dbname={s.postgres.database} "
           f"user={s.postgres.app_user} password={c.app_password} connect_timeout=5")
    acked: list[set[int]] = [set() for _ in range(WRITERS)]
    stop = threading.Event()

    def writer(w: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                rid = w * 10**9 + n
                try:
                    conn.execute("INSERT INTO ledger VALUES (%s, %s)", (rid, w))
                except psycopg.Error:
                    return  # the primary is gone: that commit was not acknowledged
                acked[w].add(rid)  # the commit returned: acknowledged to the client

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(WRITE_S)
    killed = time.monotonic()
    kill_tree(workdir / "primary")
    for t in threads:
        t.join(timeout=30)
    stop.set()
    done = set().union(*acked)
    assert len(done) > 100, "the writers committed too little to tell"

    # the operator promotes the standby that received the most WAL
    def received(port: int) -> int:
        lsn = c.psql_super(port, "SELECT pg_last_wal_receive_lsn()")
        hi, lo = lsn.split("/")
        return (int(hi, 16) << 32) + int(lo, 16)

    name = max(ports, key=lambda n: received(ports[n]))
    c.psql_super(ports[name], "SELECT pg_promote(wait => true)")
    promoted = time.monotonic()
    rows = {int(r) for r in c.psql_app(ports[name], "SELECT id FROM ledger").stdout.split()}
    lost = done - rows
    print(f"\nsynchronous {mode}: {len(done)} acknowledged commits by "
          f"{WRITERS} writers in {WRITE_S} s ({len(done) / WRITE_S:.0f}/s), "
          f"{len(rows) - len(done & rows)} more on {name} than acknowledged (in flight at the "
          f"kill), lost {len(lost)}; kill to promoted {promoted - killed:.2f} s")
    if mode == "required":
        assert lost == set()
    # and the promoted standby takes writes
    c.psql_app(ports[name], "INSERT INTO ledger VALUES (0, -1)")

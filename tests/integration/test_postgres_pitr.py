"""Point-in-time recovery with the rendered Barman Cloud commands (synth.backup), on real
servers: Debian's PostgreSQL with the stack's postgresql.conf plus the archiving settings, a
real S3-compatible server (versitygw, toolchain/s3server.sh) and Debian's barman-cli-cloud.

Rows are written continuously; a base backup is taken; at T the writer pauses; more rows
follow; the data directory is destroyed; the backup is restored into a new directory and the
archive replayed to T: every row committed before T is there, none after. Then a crash (the
whole process tree killed, no shutdown) under writes, restored to the archive's end: the rows
lost are those of the last, not yet archived WAL segment, bounded by archive_timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from phasestack.model.backup import ObjectStore, PostgresBackup
from phasestack.stackfile import load
from phasestack.synth import backup, postgres
from tests.integration.conftest import (
    PG_BIN,
    as_postgres,
    free_port,
    port_open,
    require,
    s3_server_bin,
    wait_for,
)
from tests.integration.pg_helpers import run_as_postgres, write

KEY_ID, SECRET = "pitr-test-key", "pitr-test-secret-0123456789"
BUCKET = "phasestack-backups"
# what the server's environment carries in the pod (from the Secret), never a file here
CREDENTIALS = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET,
               "AWS_DEFAULT_REGION": "us-east-1"}
# barman-cloud runs on Debian's Python (its boto3), whatever python3 comes first on PATH
TOOL_PATH = f"{PG_BIN}:/usr/bin:/bin"


def s3_server(servers, workdir: Path) -> str:
    binary = s3_server_bin() / "versitygw"
    root = workdir / "s3"
    (root / BUCKET).mkdir(parents=True)  # a bucket of versitygw's posix backend: a directory
    port = free_port()
    servers.start([str(binary), "--access", KEY_ID, "--secret", SECRET, "--port",
                   f"127.0.0.1:{port}", "--health", "/health", "posix", str(root)],
                  workdir / "s3.log")
    wait_for(lambda: port_open(port), 15, "versitygw")
    return f"http://127.0.0.1:{port}"


def barman(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    require(argv[0])
    return run_as_postgres(argv, {**CREDENTIALS, "PATH": TOOL_PATH}, timeout=timeout)


class Pg:
    """One PostgreSQL server in `data` with the stack's postgresql.conf plus `settings`, as the
    postgres user, the object store's credentials in its environment (as the pod has them)."""

    def __init__(self, servers, workdir: Path, data: Path, stack, settings: dict,
                 port: int | None = None) -> None:
        self.port, self.socket = port or free_port(), workdir / "run"
        self.socket.mkdir(mode=0o777, exist_ok=True)
        self.socket.chmod(0o777)
        text = postgres.postgresql_conf(stack, listen_addresses="127.0.0.1", port=self.port,
                                        unix_socket_dir=str(self.socket),
                                        hba_file=str(workdir / "pg_hba.conf"))
        conf = write(workdir / f"{data.name}.conf", text + backup.conf_lines(settings))
        self.proc = servers.start(
            as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-c", f"config_file={conf}"]),
            workdir / f"{data.name}.log", env={**os.environ, **CREDENTIALS, "PATH": TOOL_PATH},
            start_new_session=True)  # its own process group: a crash kills the archiver's too
        wait_for(lambda: port_open(self.port), 60, f"postgres in {data.name}")

    def sql(self, query: str, check: bool = True) -> str:
        return run_as_postgres([str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v",
                                "ON_ERROR_STOP=1",
                                "-h", str(self.socket), "-p", str(self.port), "-U", "postgres",
                                "-c", query], {}, check=check).stdout.strip()

    def crash(self) -> None:
        """SIGKILL to every process of the server, archive_command's uploads included."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


class Writer(threading.Thread):
    """Inserts one row every ~50 ms, each in its own transaction; pausable."""

    def __init__(self, pg: Pg) -> None:
        super().__init__(daemon=True)
        self.pg, self.stop, self.running = pg, threading.Event(), threading.Event()
        self.idle = threading.Event()  # set while paused with no INSERT in flight
        self.running.set()
        self.acknowledged: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            if self.running.is_set():
                self.idle.clear()
                done = self.pg.sql("INSERT INTO orders DEFAULT VALUES RETURNING id", check=False)
                if done.isdigit():
                    self.acknowledged.append(int(done))
            else:
                self.idle.set()
            time.sleep(0.05)

    def pause(self) -> None:
        """Returns once no INSERT is in flight: every row so far is committed or failed."""
        self.running.clear()
        assert self.idle.wait(30), "the writer did not pause"


def restore(b: PostgresBackup, workdir: Path, name: str) -> tuple[Path, float]:
    listed = json.loads(barman(["barman-cloud-backup-list", "--format", "json",
                                *backup.location(b)]).stdout)
    backup_id = max(b["backup_id"] for b in listed["backups_list"])
    data = workdir / name
    run_as_postgres(["install", "-d", "-m", "700", str(data)], {"PATH": TOOL_PATH})
    began = time.monotonic()
    barman(backup.restore_argv(b, backup_id, str(data)))
    took = time.monotonic() - began
    run_as_postgres(["touch", str(data / "recovery.signal")], {"PATH": TOOL_PATH})
    return data, took


def promoted(pg: Pg) -> bool:
    return pg.sql("SELECT pg_is_in_recovery()", check=False) == "f"


def test_restore_to_a_point_in_time_and_after_a_crash(servers, workdir):
    stack = load("phase2").stack
    endpoint = s3_server(servers, workdir)
    b = PostgresBackup(store=ObjectStore(destination=f"s3://{BUCKET}/ps-phase2",
                                         endpoint_url=endpoint, credentials_secret="s3-backup"),
                       archive_timeout_s=10)
    write(workdir / "pg_hba.conf", postgres.pg_hba(stack))
    primary_dir = workdir / "primary"
    run_as_postgres([str(PG_BIN / "initdb"), "-D", str(primary_dir), "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C"], {})
    primary = Pg(servers, workdir, primary_dir, stack, backup.archive_settings(b))
    assert primary.sql("SHOW archive_mode") == "on"
    primary.sql("CREATE TABLE orders (id bigserial PRIMARY KEY, at timestamptz "
                "DEFAULT clock_timestamp())")
    writer = Writer(primary)
    writer.start()
    time.sleep(2)

    began = time.monotonic()
    barman(backup.base_backup_argv(b, str(primary.socket), primary.port), timeout=300)
    backup_s = time.monotonic() - began
    time.sleep(2)
    writer.pause()  # T falls between two commits
    before_t = set(writer.acknowledged)
    target = primary.sql("SELECT clock_timestamp()")
    time.sleep(0.3)
    writer.running.set()
    time.sleep(2)
    writer.stop.set()
    writer.join(10)
    after_t = set(writer.acknowledged) - before_t
    assert before_t and after_t
    # the segment holding T must be archived before the volume is lost
    segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
    wait_for(lambda: primary.sql("SELECT last_archived_wal FROM pg_stat_archiver") >= segment,
             60, f"WAL {segment} archived")
    servers.stop(primary.proc)
    shutil.rmtree(primary_dir)  # the volume is gone

    data, restore_s = restore(b, workdir, "restored")
    began = time.monotonic()
    restored = Pg(servers, workdir, data, stack, backup.recovery_settings(b, target))
    wait_for(lambda: promoted(restored), 120, "the restored server promoted")
    recovery_s = time.monotonic() - began
    got = {int(i) for i in restored.sql("SELECT id FROM orders").split()}
    assert got == before_t, (sorted(before_t - got)[:5], sorted(got - before_t)[:5])
    print(f"PITR: {len(before_t)} rows before T restored, {len(after_t)} after T absent; "
          f"base backup {backup_s:.1f} s, restore {restore_s:.1f} s, replay and promote "
          f"{recovery_s:.1f} s")

    # a crash under writes on the restored server's new timeline, archiving into a prefix of
    # its own; restored to the archive's end, it loses at most the unarchived tail
    servers.stop(restored.proc)
    b2 = b.model_copy(update={"server_name": "postgres-2"})
    again = Pg(servers, workdir, data, stack, backup.archive_settings(b2))
    barman(backup.base_backup_argv(b2, str(again.socket), again.port), timeout=300)
    at_backup = int(again.sql("SELECT max(id) FROM orders"))
    writer = Writer(again)
    writer.start()
    time.sleep(1.5 * b.archive_timeout_s)  # past one archive_timeout switch, into the next
    again.crash()
    crashed_at = time.time()
    writer.stop.set()
    writer.join(10)
    last_ack = max(writer.acknowledged)
    shutil.rmtree(data)
    data, _ = restore(b2, workdir, "restored-2")
    latest = Pg(servers, workdir, data, stack, backup.recovery_settings(b2, None))
    wait_for(lambda: promoted(latest), 120, "the second restore promoted")
    top, newest = latest.sql("SELECT max(id), extract(epoch FROM max(at)) FROM orders").split("|")
    since = {int(i) for i in latest.sql(f"SELECT id FROM orders WHERE id > {at_backup}").split()}
    # what the archive held: WAL replayed past the base backup (rows written after it came
    # back from archived segments), every acknowledged row up to the last one restored, none
    # missing in between
    assert int(top) > at_backup, (top, at_backup)
    assert since == {i for i in writer.acknowledged if i <= int(top)}
    print(f"crash: last acknowledged row {last_ack}, restored up to {top}: "
          f"{last_ack - int(top)} rows lost, RPO {crashed_at - float(newest):.1f} s "
          f"(archive_timeout {b.archive_timeout_s} s)")

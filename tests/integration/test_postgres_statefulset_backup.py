"""Backups of the StatefulSet engine (postgres.backup, engine statefulset) on real servers:
Debian's PostgreSQL with the stack's postgresql.conf, whose archive_command is the rendered
wal-spool.sh, the rendered backup sidecar (backup.py run) with Debian's barman-cli-cloud, and a
real S3-compatible server (versitygw). The sidecar takes the first base backup on its own and
uploads every segment the archive_command spools (which returns only once it is uploaded); at T
the writer pauses, more rows follow, the volume is lost. A new stack with recover_from then
restores it as the pod would: the init container (backup.py restore) fills the empty data
directory, postgres replays the archive through wal-spool.sh fetch (its sidecar downloads) to
T and promotes: every row committed before T is there, none after; then it archives under its
own server name."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from phasestack.model.backup import ObjectStore, PostgresBackup
from phasestack.stackfile import load
from phasestack.synth import backup, postgres, postgres_backup
from tests.integration.conftest import as_postgres, free_port, wait_for
from tests.integration.pg_helpers import run_as_postgres, write
from tests.integration.test_postgres_pitr import (
    BUCKET,
    CREDENTIALS,
    PG_BIN,
    TOOL_PATH,
    Pg,
    Writer,
    barman,
    promoted,
    s3_server,
)


def with_backup(stack, b: PostgresBackup, recover_from: dict | None = None):
    pg = type(stack.postgres).model_validate({**stack.postgres.model_dump(),
                                              "backup": b.model_dump(),
                                              "recover_from": recover_from})
    return stack.model_copy(update={"postgres": pg})


class Pod:
    """The primary's pod on this host: its config directory (the ConfigMap's scripts), the
    spool both containers share, postgres and the backup sidecar."""

    def __init__(self, servers, workdir: Path, name: str, stack) -> None:
        self.servers, self.stack, self.workdir = servers, stack, workdir
        self.config = workdir / f"{name}-config"
        self.spool = workdir / f"{name}-spool"
        for d in (self.config, self.spool):
            d.mkdir(mode=0o777)
            d.chmod(0o777)
        write(self.config / "wal-spool.sh", postgres_backup.wal_spool_script(str(self.spool)))
        write(self.config / "backup.py", postgres_backup.sidecar_script())
        self.data = workdir / name

    def start(self) -> Pg:
        """Both containers at once, as in the pod: a recovering postgres fetches its WAL
        through the sidecar before it accepts connections."""
        port, socket = free_port(), self.workdir / "run"
        env = postgres_backup.sidecar_env(self.stack, str(self.spool), str(socket), port,
                                          heartbeat=str(self.spool / "beat"))
        env |= {**CREDENTIALS, "PATH": TOOL_PATH, "HOME": str(self.spool)}
        self.sidecar = self.servers.start(
            as_postgres(["/usr/bin/env", "-i", *[f"{k}={v}" for k, v in env.items()],
                         "/usr/bin/python3", str(self.config / "backup.py"), "run"]),
            self.workdir / f"{self.data.name}-sidecar.log")
        settings = postgres_backup.archive_settings(self.stack.postgres.backup, str(self.config))
        self.pg = Pg(self.servers, self.workdir, self.data, self.stack, settings, port)
        return self.pg

    def restore(self) -> None:
        """The init container, on the empty volume."""
        env = postgres_backup.restore_env(self.stack, str(self.data), str(self.config))
        run_as_postgres(["/usr/bin/python3", str(self.config / "backup.py"), "restore"],
                        {**env, **CREDENTIALS, "PATH": TOOL_PATH,
                         "HOME": str(self.spool)}, timeout=300)

    def stop(self) -> None:
        """postgres first: its shutdown archives what is left, through the sidecar."""
        self.servers.stop(self.pg.proc, sig_timeout=60)
        self.servers.stop(self.sidecar)

    def sidecar_log(self) -> str:
        return (self.workdir / f"{self.data.name}-sidecar.log").read_text()


def base_backups(b: PostgresBackup) -> int:
    listed = barman(backup.list_argv(b), timeout=60).stdout
    return listed.count('"backup_id"')


def test_sidecar_archives_and_backs_up_and_a_new_stack_restores_to_t(servers, workdir):
    endpoint = s3_server(servers, workdir)
    b = PostgresBackup(store=ObjectStore(destination=f"s3://{BUCKET}/sts",
                                         endpoint_url=endpoint, credentials_secret="s3"),
                       archive_timeout_s=10)
    stack = with_backup(load("phase1").stack, b)
    assert postgres_backup.enabled(stack)
    write(workdir / "pg_hba.conf", postgres.pg_hba(stack))
    pod = Pod(servers, workdir, "primary", stack)
    run_as_postgres([str(PG_BIN / "initdb"), "-D", str(pod.data), "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C"], {})
    primary = pod.start()
    assert primary.sql("SHOW archive_command") == (
        f"sh {pod.config}/wal-spool.sh push %p %f")
    # the sidecar's first start: a base backup, taken while it keeps archiving
    wait_for(lambda: base_backups(b) == 1, 240, "the sidecar's first base backup")
    assert "base backup taken" in pod.sidecar_log()
    primary.sql("CREATE TABLE orders (id bigserial PRIMARY KEY, at timestamptz "
                "DEFAULT clock_timestamp())")
    writer = Writer(primary)
    writer.start()
    time.sleep(3)
    writer.pause()
    before_t = set(writer.acknowledged)
    target = primary.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    time.sleep(1.1)
    writer.running.set()
    time.sleep(2)
    writer.stop.set()
    writer.join(10)
    after_t = set(writer.acknowledged) - before_t
    assert before_t and after_t
    segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
    wait_for(lambda: primary.sql("SELECT last_archived_wal FROM pg_stat_archiver") >= segment,
             120, f"WAL {segment} uploaded through the spool")
    assert primary.sql("SELECT failed_count FROM pg_stat_archiver") == "0"
    assert not [p for p in (pod.spool / "push").iterdir()]  # nothing left in the spool
    pod.stop()
    shutil.rmtree(pod.data)  # the volume is gone

    # a new stack restored from the first one's archive, archiving under a name of its own
    b2 = b.model_copy(update={"server_name": "postgres-2"})
    stack2 = with_backup(load("phase1").stack, b2, {"server_name": b.server_name,
                                                   "target_time": target})
    pod2 = Pod(servers, workdir, "restored", stack2)
    began = time.monotonic()
    pod2.restore()
    assert (pod2.data / "recovery.signal").exists()
    restored = pod2.start()
    wait_for(lambda: promoted(restored), 300, "the restored server promoted")
    took = time.monotonic() - began
    got = {int(i) for i in restored.sql("SELECT id FROM orders").split()}
    assert got == before_t, (sorted(before_t - got)[:5], sorted(got - before_t)[:5])
    # it archives under its own name: a base backup of the new timeline there
    wait_for(lambda: base_backups(b2) == 1, 240, "the restored server's first base backup")
    # a volume that holds a database is never restored over
    pod2.stop()
    pod2.restore()
    assert not (pod2.data / "recovery.signal").exists()
    print(f"\nStatefulSet PITR: {len(before_t)} rows before T restored, {len(after_t)} after "
          f"T absent; restore + replay + promote {took:.1f} s")

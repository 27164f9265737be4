"""Every stack's Redis, PostgreSQL and PgBouncer configuration, and every stack of the hostile
corpus that renders, checked by the real servers' own parsers (issue 11: the nginx -t check
covered four stacks and no other server's config was checked per stack; test_nginx_server
runs nginx -t over every stack). A server that refuses a rendered file fails the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from phasestack.model import Stack
from phasestack.stackfile import StackError, list_stack_files, load, project_root, stack_name
from phasestack.synth import pgbouncer, postgres, redis, secrets
from tests.integration.conftest import (
    PG_BIN,
    free_port,
    pgbouncer_binary,
    port_open,
    require,
    wait_for,
)
from tests.integration.pg_helpers import run_as_postgres, write

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from hostile import corpus  # noqa: E402

ROOT = project_root()
NAMES = [stack_name(p) for p in list_stack_files(ROOT)]
PASSWORD = "admin-Password_0123456789"


def rendered_hostile(tmp: Path) -> list[Stack]:
    """The corpus stacks the loader accepts (the others are refused with a message)."""
    out = []
    for i, (_, doc, _) in enumerate(corpus()):
        path = tmp / f"Pulumi.h{i}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        try:
            out.append(load(str(path)).stack)
        except StackError:
            continue
    return out


def check_redis(stack: Stack, servers, workdir: Path) -> None:
    d = workdir / "redis"
    d.mkdir(exist_ok=True)
    port = free_port()
    conf = d / "redis.conf"
    conf.write_text(redis.redis_conf(stack, port=port, dir=str(d), bind="127.0.0.1",
                                     cluster_port=free_port()))
    args = redis.server_args(stack, conf_path=str(conf), password_ref=PASSWORD,
                             admin_ref=PASSWORD, hostname="127.0.0.1",
                             nodename="redis-0/node-a")
    proc = servers.start([require("redis-server"), *args], d / "server.log")
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD}
    wait_for(lambda: subprocess.run([require("redis-cli"), "-p", str(port), "ping"], env=env,
                                    capture_output=True, text=True).stdout.strip() == "PONG",
             10, f"redis-server with {stack.namespace}'s redis.conf")
    got = subprocess.run([require("redis-cli"), "-p", str(port), "config", "get", "maxmemory"],
                         env=env, capture_output=True, text=True).stdout.split()
    assert got == ["maxmemory", str(stack.redis.maxmemory_mb * 2**20)], got
    servers.stop(proc)


@pytest.fixture(scope="module")
def pgdata(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pg")
    for p in [d, *d.parents]:
        if str(p).startswith("/tmp") and p != Path("/tmp"):
            p.chmod(p.stat().st_mode | 0o711)
    d.chmod(0o777)
    run_as_postgres([str(require(str(PG_BIN / "initdb"))), "-D", str(d / "data"), "-U",
                     "postgres", "--no-sync"], {})
    return d


def check_postgres(stack: Stack, pgdata: Path) -> None:
    """postgres -C parses the whole rendered postgresql.conf (and refuses a bad one)."""
    conf = write(pgdata / "postgresql.conf", postgres.postgresql_conf(
        stack, unix_socket_dir=str(pgdata), hba_file=str(pgdata / "pg_hba.conf")))
    write(pgdata / "pg_hba.conf", postgres.pg_hba(stack))
    out = run_as_postgres([str(PG_BIN / "postgres"), "-D", str(pgdata / "data"),
                           f"--config-file={conf}", "-C", "max_connections"], {}, check=False)
    assert out.returncode == 0, (stack.namespace, out.stderr)
    assert out.stdout.strip() == str(stack.postgres.max_connections)


def check_pgbouncer(stack: Stack, servers, workdir: Path) -> None:
    """PgBouncer starts on the rendered pgbouncer.ini (it exits on one it cannot parse)."""
    d = workdir / "pgbouncer"
    d.mkdir(exist_ok=True, mode=0o777)
    d.chmod(0o777)
    port = free_port()
    userlist = write(d / "userlist.txt", secrets.userlist(stack, PASSWORD), 0o644)
    ini = write(d / "pgbouncer.ini", pgbouncer.pgbouncer_ini(
        stack, rw_host="127.0.0.1", ro_host="127.0.0.1", listen_addr="127.0.0.1",
        listen_port=port, auth_file=str(userlist), logfile=str(d / "pgbouncer.log"),
        pidfile=str(d / "pgbouncer.pid"), unix_socket_dir=""))
    from tests.integration.conftest import as_postgres

    proc = servers.start(as_postgres([pgbouncer_binary(), str(ini)]), d / "out.log")
    wait_for(lambda: port_open(port) or proc.poll() is not None, 15, "pgbouncer")
    assert proc.poll() is None, (d / "out.log").read_text()
    servers.stop(proc)


def check_all(stack: Stack, servers, workdir: Path, pgdata: Path) -> None:
    check_redis(stack, servers, workdir)
    check_postgres(stack, pgdata)
    if stack.pgbouncer.enabled:
        check_pgbouncer(stack, servers, workdir)


@pytest.mark.parametrize("name", NAMES)
def test_every_stacks_redis_postgres_and_pgbouncer_config(name, servers, workdir, pgdata):
    check_all(load(name, ROOT).stack, servers, workdir, pgdata)


def test_every_rendered_hostile_stack_on_the_real_servers(servers, workdir, pgdata, tmp_path):
    stacks = rendered_hostile(tmp_path)
    assert len(stacks) > 10
    for stack in stacks:
        check_all(stack, servers, workdir, pgdata)

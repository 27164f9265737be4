"""Real servers from Debian's packages (or built from Debian's or the Go proxy's sources where
the image's version is newer: toolchain/), on 127.0.0.1 only, free ports, stopped by PID.

Locally a missing binary skips with the reason; under CI=true it fails (issue 5).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _pg_bin(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The newest PostgreSQL major Debian installed (bookworm: 15, trixie: 17), not a fixed one
    (issue 15); its absence is reported by require() where a test needs a binary."""
    majors = sorted((p.parent for p in root.glob("*/bin/postgres")),
                    key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return majors[-1] if majors else root / "15" / "bin"


PG_BIN = _pg_bin()


def require(binary: str) -> str:
    """Absolute path of a server binary; skip (locally) or fail (CI=true) when missing."""
    path = binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else shutil.which(
        binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        message = f"{binary} is not installed (apt-get install it, or run `make test`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _below_ephemeral() -> Iterator[int]:
    """Ports below the kernel's ephemeral range, from a random start, each offered once.

    bind(0) hands out ports from the range outgoing connections use too: a port picked early
    and started on later (a Redis Cluster's new nodes) could meanwhile be the local end of a
    cluster-bus or redis-cli connection, and the server then fails to bind (CI, stop 22)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    first = random.randrange(10000, low - 2000)
    yield from range(first, low)


_PORTS = _below_ephemeral()  # one sequence per test process: no port is handed out twice


def _built(env: str, script: str, missing: str) -> str:
    """What a toolchain/ script builds (its last line): given in `env` by `make test`, else
    built now; skip locally, fail under CI=true, when it cannot be had."""
    given = os.environ.get(env)
    if given:
        return given
    path = Path(__file__).resolve().parents[2] / "toolchain" / script
    try:  # Prometheus takes about 10 min the first time on 2 cores
        done = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=2400)
        failed = done.stderr.strip()[-300:] if done.returncode else ""
    except subprocess.TimeoutExpired:
        failed = "did not finish in 40 minutes"
    if failed:
        message = f"{missing} ({path}: {failed})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return done.stdout.strip().splitlines()[-1]


def pgbouncer_binary() -> str:
    """PgBouncer 1.21+ (max_prepared_statements): Debian's own when new enough, else trixie's
    source package built by toolchain/pgbouncer.sh (`make test` passes it in
    PHASESTACK_PGBOUNCER)."""
    return require(_built("PHASESTACK_PGBOUNCER", "pgbouncer.sh", "no PgBouncer 1.21+"))


def s3_server_bin() -> Path:
    """The directory with versitygw 1.8.0, a real S3-compatible server over a directory, built
    from the Go module proxy by toolchain/s3server.sh (`make test` passes it in
    PHASESTACK_S3_BIN)."""
    where = Path(_built("PHASESTACK_S3_BIN", "s3server.sh", "no S3 server"))
    require(str(where / "versitygw"))
    return where


def alertmanager_bin() -> Path:
    """The directory with alertmanager and amtool 0.35 (Debian's 0.25 has no webhook url_file),
    built from the Go module proxy by toolchain/alertmanager.sh (`make test` passes it in
    PHASESTACK_ALERTMANAGER_BIN)."""
    where = Path(_built("PHASESTACK_ALERTMANAGER_BIN", "alertmanager.sh", "no Alertmanager"))
    require(str(where / "alertmanager"))
    return where


def prometheus_bin() -> Path:
    """The directory with prometheus and promtool 3.16.0, the image's version, built from the
    Go module proxy by toolchain/prometheus.sh (`make test` passes it in
    PHASESTACK_PROMETHEUS_BIN): Debian's 2.42 lacks the Kubernetes service discovery."""
    where = Path(_built("PHASESTACK_PROMETHEUS_BIN", "prometheus.sh", "no Prometheus"))
    require(str(where / "promtool"))
    return where


@pytest.fixture(scope="session", autouse=True)
def _valkey_first_on_path() -> Iterator[None]:
    """redis-server and redis-cli are the image's Valkey 9.1.2 (its redis-* links), built from
    Debian's source package by toolchain/valkey.sh (`make test` passes it in
    PHASESTACK_VALKEY_BIN): first on PATH for the tests and the scripts and runbook commands
    they run, ahead of any Debian redis-server (bookworm's 7.0 is past maintenance)."""
    where = _built("PHASESTACK_VALKEY_BIN", "valkey.sh", "no Valkey")
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{where}:{before}"
    try:
        yield
    finally:
        os.environ["PATH"] = before


def free_port() -> int:
    """A port nothing listens on now, that no other call in this process returns and that no
    outgoing connection can take before the test's server binds it."""
    for port in _PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready after {timeout}s")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL and PgBouncer refuse to run as root."""
    if os.geteuid() != 0:
        return cmd
    return [require("runuser"), "-u", "postgres", "--", *cmd]


class Servers:
    """Started processes, stopped by PID at teardown (TERM, then KILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log: Path, **kw) -> subprocess.Popen:
        out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kw)
        proc._log = out  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig_timeout: float = 10) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(sig_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        proc._log.close()  # type: ignore[attr-defined]

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch dir the postgres user can traverse and write."""
    d = tmp_path / "work"
    d.mkdir()
    for p in [d, *d.parents]:
        if p == Path("/"):
            break
        if str(p).startswith(("/tmp", str(tmp_path.parent.parent))):
            p.chmod(p.stat().st_mode | 0o711)
    d.chmod(0o777)
    return d


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)

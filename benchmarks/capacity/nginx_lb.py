"""nginx: requests/s per worker process through the rendered nginx.conf (static upstreams, its
limit_req, real_ip and keepalive as rendered) to fast local backends, with wrk keeping its
connections alive; then the share of requests still served when a backend is killed mid-run
(proxy_next_upstream)."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

from benchmarks.capacity.common import LOAD_CPU, SERVER_CPU, Row, pinned
from phasestack.model import Stack
from phasestack.synth import nginx
from tests.integration.conftest import Servers, free_port, port_open, require, wait_for

# A backend that costs next to nothing, so nginx is what the run measures: nginx itself, one
# process (master_process off), which SIGKILL takes down at once, as a node loss does.
BACKEND = """daemon off;
master_process off;
worker_processes 1;
pid {prefix}/backend-{port}.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/b{port};
    proxy_temp_path {prefix}/b{port};
    fastcgi_temp_path {prefix}/b{port};
    uwsgi_temp_path {prefix}/b{port};
    scgi_temp_path {prefix}/b{port};
    keepalive_requests 1000000;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }}
}}
"""

# every request from its own client address (X-Forwarded-For from the trusted load generator):
# the rendered per-IP limit_req then limits no one, as with real users, and still does its work
CLIENTS = """math.randomseed(os.time())
request = function()
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
    math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format(nil, "/")
end
"""


def _wrk(port: int, seconds: int, script: Path, connections: int = 64) -> dict[str, float]:
    out = subprocess.run(
        pinned([require("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                f"http://127.0.0.1:{port}/"], LOAD_CPU),
        capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "total": total, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def measure(stack: Stack, servers: Servers, workdir: Path, seconds: int) -> list[Row]:
    binary = require("/usr/sbin/nginx")
    # the load generator is the trusted proxy in front (a cloud L7 load balancer's role)
    stack = stack.model_copy(update={"nginx": stack.nginx.model_copy(
        update={"trusted_proxies": ["127.0.0.1/32"]})})
    backends = []
    for _ in range(2):
        port = free_port()
        conf = workdir / f"backend-{port}.conf"
        conf.write_text(BACKEND.format(prefix=workdir, port=port))
        (workdir / f"b{port}").mkdir()
        proc = servers.start(pinned([binary, "-p", f"{workdir}/", "-c", str(conf)], LOAD_CPU),
                             workdir / f"backend-{port}.log")
        backends.append((port, proc))
    port, status = free_port(), free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx.nginx_conf(stack, upstreams=[f"127.0.0.1:{p}" for p, _ in backends],
                                     listen=port, status_port=status, prefix=str(workdir)))
    servers.start(pinned([binary, "-e", "stderr", "-p", f"{workdir}/", "-c", str(conf)],
                         SERVER_CPU), workdir / "nginx.log")
    for p in [port, *(b for b, _ in backends)]:
        wait_for(lambda p=p: port_open(p), timeout=10, what="nginx")
    script = workdir / "clients.lua"
    script.write_text(CLIENTS)
    workers = nginx.worker_processes(stack)

    steady = _wrk(port, seconds, script)
    # the same run, one backend SIGKILLed halfway: what nginx's retries save
    killer = threading.Timer(seconds / 2, backends[1][1].kill)
    killer.start()
    started = time.monotonic()
    cut = _wrk(port, seconds, script)
    killer.join()
    served = (cut["total"] - cut["non_2xx"] - cut["socket_errors"]) / cut["total"]
    lost = cut["non_2xx"] + cut["socket_errors"]
    return [
        Row("nginx.rps_per_replica", "req/s per pod", stack.nginx.rps_per_replica,
            steady["rps"],
            f"wrk 1 thread, 64 keep-alive connections, {seconds} s, through the rendered "
            f"nginx.conf ({workers} worker process(es): the pod's cpu_limit "
            f"{stack.nginx.resources.cpu_limit}) pinned to CPU {SERVER_CPU}, wrk and 2 nginx "
            f"`return 200` backends on CPU {LOAD_CPU}; {steady['non_2xx']} non-2xx, "
            f"{steady['socket_errors']} socket errors"),
        Row("nginx: per worker process", "req/s", None, steady["rps"] / workers,
            "the figure above / worker_processes"),
        Row("nginx: served with a backend killed", "% of requests", None, 100 * served,
            f"the same run, one of the 2 backends SIGKILLed after {seconds / 2:g} s "
            f"(proxy_next_upstream): {cut['total']:,} requests in "
            f"{time.monotonic() - started:.0f} s, {lost} not served "
            f"({cut['non_2xx']} non-2xx, {cut['socket_errors']} socket errors)"),
    ]

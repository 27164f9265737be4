"""benchmarks/capacity end to end, briefly: every figure measured on the real servers (nginx,
Redis standalone and Cluster, PgBouncer, PostgreSQL), the direct run past max_connections
refused, and its JSON taken by `phasestack plan --calibration` (issue 17)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import require

ROOT = Path(__file__).parents[2]
ROWS = ("nginx.rps_per_replica", "nginx: per worker process",
        "nginx: served with a backend killed", "redis.ops_per_master (standalone)",
        "redis.ops_per_master (Cluster)", "pgbouncer: pool throughput",
        "pgbouncer: same clients without it", "postgres: queries waiting query_ms",
        "postgres: queries on the CPU for query_ms")


def test_capacity_benchmark_measures_and_calibrates_the_planner(tmp_path):
    for binary in ("/usr/sbin/nginx", "wrk", "taskset"):
        require(binary)
    out = tmp_path / "calibration.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.capacity", "--seconds", "2", "--requests", "5000",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipped" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    table = {line.split("  ")[0]: re.split(r"\s{2,}", line) for line in lines
             if line.split("  ")[0] in ROWS}
    assert list(table) == list(ROWS)
    for figure in ("nginx.rps_per_replica", "redis.ops_per_master (standalone)",
                   "redis.ops_per_master (Cluster)", "pgbouncer: pool throughput"):
        _, _, assumed, measured, ratio = (c.replace(",", "") for c in table[figure])
        assert float(measured) > 0, table[figure]
        assert abs(float(ratio) - float(measured) / float(assumed)) < 0.01, table[figure]
    assert table["pgbouncer: same clients without it"][3] == "-"  # refused: nothing measured
    text = done.stdout
    assert re.search(r"pool_mode transaction, default_pool_size 50\), 10 s, each transaction "
                     r"SELECT pg_sleep\(0\.01\); 0 failed", text), text
    assert "straight to PostgreSQL (max_connections 200): refused: pgbench exit 1" in text
    assert re.search(r"one of the 2 backends SIGKILLed after 1 s \(proxy_next_upstream\): "
                     r"[\d,]+ requests in \d+ s, 0 not served", text), text

    data = json.loads(out.read_text())
    assert data["stack"] == "phase2" and data["machine"]
    assert set(data["figures"]) == {"nginx.rps_per_replica", "redis.ops_per_master.standalone",
                                    "redis.ops_per_master.cluster"}
    assert [m["figure"] for m in data["measurements"]] == list(ROWS)

    plan = subprocess.run(
        [str(Path(sys.executable).parent / "phasestack"), "plan", "phase2", "--calibration",
         str(out), "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert plan.returncode in (0, 1), plan.stderr
    report = json.loads(plan.stdout)
    nginx = data["figures"]["nginx.rps_per_replica"]
    assert report["calibration"]["taken"][0] == \
        f"nginx.rps_per_replica {nginx:,.0f} (default 5,000)"
    check = next(c for c in report["checks"] if c["name"] == "nginx_throughput")
    assert f"rps_per_replica {nginx:,.0f}" in check["formula"]

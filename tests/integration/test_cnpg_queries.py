"""The queries the CloudNativePG exporter runs for the alerts (synth.cnpg.QUERIES), on a real
PostgreSQL 15 primary and streaming standby (Debian), read the way the operator's exporter
reads them: as a pg_monitor role, in a transaction whose search_path is pinned to
pg_catalog, public, pg_temp. Each returns exactly the columns its metrics name, with the values
the alerts expect: connections and max_connections, a standby's lag and WAL receiver (1 while
streaming, 0 once its primary is gone), and the statement totals the latency alert divides."""

from __future__ import annotations

import yaml

from phasestack.model import MONITOR_USER
from phasestack.stackfile import load
from phasestack.synth import cnpg, postgres
from tests.integration.conftest import wait_for
from tests.integration.pg_helpers import crash, start_cluster

QUERIES = yaml.safe_load(cnpg.QUERIES)


def scrape(c, port: int, name: str) -> list[dict]:
    """One query's rows as the exporter gets them: column name -> text."""
    spec = QUERIES[name]
    columns = [next(iter(m)) for m in spec["metrics"]]
    sql = (f"BEGIN; SET LOCAL search_path = pg_catalog, public, pg_temp; "
           f"COPY ({spec['query'].strip()}) TO STDOUT WITH (FORMAT csv, HEADER); COMMIT;")
    out = c.psql_tcp(MONITOR_USER, c.monitor_password, port, sql,
                     postgres.EXPORTER_DATABASE).stdout
    lines = [line for line in out.splitlines() if line and line not in ("BEGIN", "SET",
                                                                        "COMMIT")]
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    assert header == columns, (name, header)
    return [dict(zip(header, r, strict=True)) for r in rows]


def test_the_exporters_queries_on_a_primary_and_a_standby(servers, workdir):
    stack = load("phase2").stack
    c = start_cluster(stack, servers, workdir)
    for _ in range(20):
        c.psql_app(c.primary_port, "SELECT count(*) FROM pg_class")

    (setting,) = scrape(c, c.primary_port, "pg_settings_max")
    assert float(setting["connections"]) == stack.postgres.max_connections == 200
    active = scrape(c, c.primary_port, "pg_stat_activity")
    assert sum(int(r["count"]) for r in active) >= 1  # this very connection at least
    assert {r["datname"] for r in active} >= {postgres.EXPORTER_DATABASE}

    # the primary: no lag, its "receiver" reads 1 (it is the primary)
    assert scrape(c, c.primary_port, "pg_replication_lag") == [{"seconds": "0"}]
    assert scrape(c, c.primary_port, "pg_replication_receiver") == [{"up": "1"}]

    # statement totals of the app's database (pg_stat_statements, preloaded as the operator
    # preloads it for a pg_stat_statements.* parameter)
    totals = {r["datname"]: r for r in scrape(c, c.primary_port, "pg_stat_statements")}
    app = totals[stack.postgres.database]
    assert int(app["calls_total"]) >= 20 and float(app["seconds_total"]) > 0

    # the standby streams (1) with no lag to replay, then loses its primary (0)
    wait_for(lambda: scrape(c, c.replica_port, "pg_replication_receiver") == [{"up": "1"}],
             timeout=30, what="standby streaming")
    lag = float(scrape(c, c.replica_port, "pg_replication_lag")[0]["seconds"])
    assert 0 <= lag < 30
    crash(workdir / "primary")
    wait_for(lambda: scrape(c, c.replica_port, "pg_replication_receiver") == [{"up": "0"}],
             timeout=30, what="standby not streaming without its primary")

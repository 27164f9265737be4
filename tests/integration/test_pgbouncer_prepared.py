"""Prepared statements through transaction pooling (issue 15): psycopg 3 prepares every query
here (prepare_threshold=0), as asyncpg, pgx and Prisma do, through the rendered pgbouncer.ini
of PgBouncer 1.21+. Four clients share two server connections, so a statement prepared on one
server connection is executed on the other: with max_prepared_statements PgBouncer prepares it
there too; with 0 (PgBouncer < 1.21 behaves so) the server answers that it does not exist."""

from __future__ import annotations

import psycopg
import pytest

from phasestack.model import Stack
from tests.integration.pg_helpers import start_cluster
from tests.integration.test_pgbouncer_server import start_pgbouncer

QUERY = "SELECT count(*) FROM pg_class WHERE relkind = %s"


def stack(max_prepared: int) -> Stack:
    # two server connections per pool, no reserve: clients must take turns on them
    return Stack.for_phase("phase1", pgbouncer={
        "replicas": 1, "default_pool_size": 2, "min_pool_size": 0, "reserve_pool_size": 0,
        "max_prepared_statements": max_prepared})


def run_clients(s: Stack, password: str, port: int) -> None:
    """Four clients, each preparing and then re-executing the same statement in separate
    transactions, interleaved so that each lands on both server connections."""
    pg = s.postgres
    clients = [psycopg.connect(host="127.0.0.1", port=port, dbname=pg.database,
                               user=pg.app_user, password=password, autocommit=True,
                               prepare_threshold=0, connect_timeout=10) for _ in range(4)]
    try:
        for _ in range(5):
            for conn in clients:
                assert conn.execute(QUERY, ("r",), prepare=True).fetchone()[0] > 0
    finally:
        for conn in clients:
            conn.close()


def test_prepared_statements_work_through_transaction_pooling(servers, workdir):
    s = stack(200)
    c = start_cluster(s, servers, workdir)
    port = start_pgbouncer(s, c, servers, workdir)
    run_clients(s, c.app_password, port)
    # the statements really were protocol-level prepared ones, on the server connection, under
    # PgBouncer's own name
    prepared = c.psql_app(port, "SELECT name FROM pg_prepared_statements "
                                "WHERE statement LIKE 'SELECT count(*) FROM pg_class%'")
    assert prepared.stdout.split() and all(
        n.startswith("PGBOUNCER_") for n in prepared.stdout.split()), prepared.stdout


def test_without_tracking_the_server_does_not_know_the_statement(servers, workdir):
    """The check can fail: the same clients against max_prepared_statements = 0."""
    s = stack(0)
    c = start_cluster(s, servers, workdir)
    port = start_pgbouncer(s, c, servers, workdir)
    with pytest.raises(psycopg.Error) as err:
        run_clients(s, c.app_password, port)
    print(f"without max_prepared_statements: {err.value}")
    assert "does not exist" in str(err.value) or "already exists" in str(err.value), err.value

"""The queries CloudNativePG's exporter runs for phasestack (the Cluster's
monitoring.customQueriesConfigMap): postgres_exporter's series for the alerts and dashboards,
named cnpg_<query>_<column> by the exporter and stripped of METRIC_PREFIX by Prometheus, so
both engines feed the same rules. Proven as a pg_monitor role on a real PostgreSQL 15 primary
and standby by tests/integration/test_cnpg_queries.py."""

METRIC_PREFIX = "cnpg_"

# search_path is pinned to pg_catalog, public, pg_temp: everything is schema-qualified
QUERIES = """\
pg_stat_activity:
  query: |
    SELECT datname, state, pg_catalog.count(*) AS count
    FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'
    GROUP BY datname, state
  metrics:
    - datname: {usage: LABEL, description: Database}
    - state: {usage: LABEL, description: Connection state}
    - count: {usage: GAUGE, description: Client connections}
pg_settings_max:
  query: "SELECT pg_catalog.current_setting('max_connections')::float AS connections"
  metrics:
    - connections: {usage: GAUGE, description: max_connections}
pg_replication_lag:
  query: |
    SELECT CASE WHEN NOT pg_catalog.pg_is_in_recovery()
        OR pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0
      ELSE GREATEST(0, EXTRACT(EPOCH FROM pg_catalog.now()
        OPERATOR(pg_catalog.-) pg_catalog.pg_last_xact_replay_timestamp())) END AS seconds
  metrics:
    - seconds: {usage: GAUGE, description: Seconds of replay behind the primary}
pg_replication_receiver:
  query: |
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
      THEN (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_wal_receiver
            WHERE status = 'streaming') ELSE 1 END AS up
  metrics:
    - up: {usage: GAUGE, description: "1 while streaming from the primary (or the primary)"}
pg_stat_statements:
  query: |
    SELECT d.datname, pg_catalog.sum(s.calls) AS calls_total,
      pg_catalog.sum(s.total_exec_time) / 1000 AS seconds_total
    FROM public.pg_stat_statements s JOIN pg_catalog.pg_database d ON d.oid = s.dbid
    GROUP BY d.datname
  metrics:
    - datname: {usage: LABEL, description: Database}
    - calls_total: {usage: COUNTER, description: Statements run}
    - seconds_total: {usage: COUNTER, description: Seconds spent running them}
"""

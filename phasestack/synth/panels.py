"""Grafana dashboard rows per scrape job (pure data): (title, expr, unit, warning, critical,
legend, description). The API's come from the stack's series names (api.metrics).

Every selector names its job (`job="..."` or `job=~"..."`): the dashboard's pod variable is
added next to each (phasestack.synth.grafana.scoped), so one pod can be looked at alone."""

from __future__ import annotations

# a threshold in PANELS is a key of the stack's prometheus.thresholds() (per stack: the error
# and request rates are stack settings)
RPS = "rps_critical"
# the primary's and the replicas' postgres_exporter
PG = '{job=~"postgres|postgres-replica"}'

# (title, expr, unit, warning, critical, legend, description)
def api_panels(series: dict) -> list[tuple]:
    """The API dashboard from the stack's series names (prometheus.api_series)."""
    req, status, job = series["requests"], series["status"], series["job"]
    rows = [
        ("Requests per second", f'sum(rate({req}{{job="{job}"}}[1m]))', "reqps",
         None, RPS, "rps", "All API pods together."),
        ("Error rate (5xx)", f'sum(rate({req}{{job="{job}", {status}=~"5.."}}[5m])) / '
         f'sum(rate({req}{{job="{job}"}}[5m]))', "percentunit",
         "error_rate_warning", "error_rate_critical", "5xx share", "Share of 5xx answers."),
    ]
    if series["buckets"]:
        rows.append(("Latency P99", 'histogram_quantile(0.99, sum by (le) '
                     f'(rate({series["buckets"]}{{job="{job}"}}[5m])))', "s",
                     "latency_p99_warning", "latency_p99_critical", "p99", "99th percentile."))
    return rows + [("Pods up", f'sum(up{{job="{job}"}})', "short", None, None, "pods",
                    "Scraped API pods.")]


PANELS: dict[str, list[tuple]] = {
    "nginx": [
        ("Requests per second", 'sum(rate(nginx_http_requests_total{job="nginx"}[1m]))', "reqps",
         None, RPS, "rps", "All nginx pods together."),
        ("Active connections", 'sum by (instance) (nginx_connections_active{job="nginx"})', "short",
         None, None, "{{instance}}", "Open client connections per pod."),
    ],
    "redis": [
        ("Memory used / maxmemory", 'redis_memory_used_bytes{job="redis"} / '
         '(redis_memory_max_bytes{job="redis"} > 0)', "percentunit",
         "redis_memory_warning", "redis_memory_critical", "{{instance}}",
         "Per Redis server."),
        ("CPU (one core = 100%)", 'rate(redis_cpu_sys_seconds_total{job="redis"}[5m]) + '
         'rate(redis_cpu_user_seconds_total{job="redis"}[5m])', "percentunit",
         "redis_cpu_warning", "redis_cpu_critical", "{{instance}}", "Main thread CPU."),
        ("Commands per second", 'sum by (instance) (rate(redis_commands_processed_total'
         '{job="redis"}[1m]))', "ops", None, None, "{{instance}}", "Per Redis server."),
        ("Connected clients", 'redis_connected_clients{job="redis"}', "short", None, None,
         "{{instance}}", "Per Redis server."),
    ],
    "postgres": [
        ("Connections / max_connections", f'sum by (job, instance) (pg_stat_activity_count{PG}) / '
         f'max by (job, instance) (pg_settings_max_connections{PG})', "percentunit",
         "pg_connections_warning", "pg_connections_critical", "{{instance}}",
         "Warns and pages at the stack's alert thresholds."),
        ("Mean query time", f'sum by (instance) (rate(pg_stat_statements_seconds_total{PG}[5m])) '
         f'/ sum by (instance) (rate(pg_stat_statements_calls_total{PG}[5m]))', "s",
         "pg_query_warning", "pg_query_critical", "{{instance}}",
         "pg_stat_statements via postgres_exporter --collector.stat_statements."),
        ("Commits per second", f'sum by (instance) (rate(pg_stat_database_xact_commit{PG}[1m]))',
         "ops",
         None, None, "{{instance}}", "Committed transactions."),
    ],
    "postgres-replica": [
        ("Replication lag", 'pg_replication_lag_seconds{job="postgres-replica"}', "s", None,
         "replication_lag_seconds", "{{instance}}", "Seconds behind the primary."),
    ],
    "pgbouncer": [
        ("Clients waiting", 'sum by (instance) (pgbouncer_pools_client_waiting_connections'
         '{job="pgbouncer"})', "short", None, 1, "{{instance}}", "Queued for a server connection."),
        ("Active clients", 'sum by (instance) (pgbouncer_pools_client_active_connections'
         '{job="pgbouncer"})', "short", None, None, "{{instance}}", "Client connections in use."),
        ("Active server connections", 'sum by (instance) (pgbouncer_pools_server_active_connections'
         '{job="pgbouncer"})', "short", None, None, "{{instance}}", "Connections to PostgreSQL."),
    ],
    # only with an HPA (phasestack.synth.kube_state_metrics)
    "kube-state-metrics": [
        ("HPA replicas / max replicas",
         'kube_horizontalpodautoscaler_status_current_replicas{job="kube-state-metrics"} / '
         'kube_horizontalpodautoscaler_spec_max_replicas{job="kube-state-metrics"}',
         "percentunit", None, 1, "{{horizontalpodautoscaler}}",
         "HpaAtMaxReplicas fires after 15 minutes at 100%."),
        ("HPA replicas", 'kube_horizontalpodautoscaler_status_current_replicas'
         '{job="kube-state-metrics"}', "short", None, None, "{{horizontalpodautoscaler}}",
         "Current replicas per HPA."),
    ],
    # only with monitoring.alerting.alertmanager (phasestack.synth.alertmanager)
    "alertmanager": [
        ("Alerts active", 'sum(alertmanager_alerts{job="alertmanager", state="active"})',
         "short", None, None, "active", "Alerts Alertmanager holds (firing, not silenced)."),
        ("Notifications failed per second", 'sum by (integration) (rate('
         'alertmanager_notifications_failed_total{job="alertmanager"}[5m]))', "short", None,
         None, "{{integration}}", "AlertmanagerNotificationsFailing fires after 10 minutes."),
        ("Notifications sent per second", 'sum by (integration) (rate('
         'alertmanager_notifications_total{job="alertmanager"}[5m]))', "short", None, None,
         "{{integration}}", "Per receiver type."),
    ],
}

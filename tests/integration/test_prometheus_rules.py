"""promtool and Prometheus 3.16.0 (the image's version, toolchain/prometheus.sh) against the
rendered prometheus.yml and alert rules.

`promtool test rules` proves each alert fires above its threshold and stays silent below it,
on the very rule text the Prometheus ConfigMap carries.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from phasestack.model import Stack
from phasestack.stackfile import list_stack_files, load
from phasestack.synth import grafana, kube_state_metrics, monitoring, prometheus
from phasestack.synth.prometheus import RULES_FILE, THRESHOLDS, thresholds
from tests.integration.conftest import free_port, prometheus_bin, wait_for

ROOT = Path(__file__).resolve().parents[2]
STACKS = [p.name[len("Pulumi."):-len(".yaml")] for p in list_stack_files(ROOT)]
EVAL = "20m"  # past every rule's `for` (15m at most) with full 5m rate windows
ABOVE, BELOW = 1.2, 0.8  # multipliers of the threshold for the firing and the silent case


def config_text(stack: Stack, where: Path) -> str:
    """prometheus.yml with the ServiceAccount token and CA the kubelet jobs name in `where`
    (in a pod they are mounted; promtool checks that they exist)."""
    for name in ("token", "ca.crt"):
        (where / name).touch()
    return monitoring.prometheus_yml(stack, token_dir=str(where))


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(prometheus_bin() / "promtool"), *args], capture_output=True,
                          text=True, timeout=60)


def series(name: str, labels: dict[str, str], values: str) -> dict:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def counter(per_minute: float) -> str:
    return f"0+{per_minute:g}x30"


def gauge(value: float) -> str:
    return f"{value:g}x30"


# Each case: factor (ABOVE or BELOW) -> (input series, labels the alert carries)
Case = Callable[[float], tuple[list[dict], dict[str, str]]]
REDIS = {"job": "redis", "instance": "10.0.0.5:9121"}
PG = {"job": "postgres", "instance": "10.0.0.6:9187"}
REPLICA = {"job": "postgres-replica", "instance": "10.0.0.7:9187"}


# the API's series as the stack names them (api.metrics; podinfo's by default)
PODINFO_SERIES = {"requests": "http_requests_total", "status": "status",
                  "buckets": "http_request_duration_seconds_bucket", "job": "api"}


def error_rate(t: float, api: dict) -> Case:
    def build(f: float):
        share = t * f  # 5xx share of 1,000 requests a minute
        return [series(api["requests"], {"job": api["job"], api["status"]: "200"},
                       counter(1000 * (1 - share))),
                series(api["requests"], {"job": api["job"], api["status"]: "503"},
                       counter(1000 * share))], {}
    return build


def latency_p99(t: float, api: dict) -> Case:
    def build(f: float):
        # every request in (t, 2t] puts the P99 at 1.99t; in (t/2, t] at 0.995t
        slow = f > 1
        le = {f"{t / 2:g}": 0, f"{t:g}": 0 if slow else 100, f"{2 * t:g}": 100, "+Inf": 100}
        return [series(api["buckets"], {"job": api["job"], "le": k},
                       counter(v)) for k, v in le.items()], {}
    return build


def redis_memory(t: float) -> Case:
    def build(f: float):
        return [series("redis_memory_used_bytes", REDIS, gauge(t * f * 1000)),
                series("redis_memory_max_bytes", REDIS, gauge(1000))], REDIS
    return build


def redis_cpu(t: float) -> Case:
    def build(f: float):
        half = t * f * 60 / 2  # CPU seconds a minute, split between sys and user
        return [series("redis_cpu_sys_seconds_total", REDIS, counter(half)),
                series("redis_cpu_user_seconds_total", REDIS, counter(half))], REDIS
    return build


def pg_connections(t: float) -> Case:
    def build(f: float):
        used = t * f * 200
        return [series("pg_stat_activity_count", {**PG, "datname": "app", "state": "active"},
                       gauge(used / 2)),
                series("pg_stat_activity_count", {**PG, "datname": "app", "state": "idle"},
                       gauge(used / 2)),
                series("pg_settings_max_connections", PG, gauge(200))], PG
    return build


def pg_query(t: float) -> Case:
    # postgres_exporter v0.15 --collector.stat_statements: counters per {user, datname, queryid}
    def build(f: float):
        labels = {**PG, "datname": "app", "user": "app", "queryid": "42"}
        return [series("pg_stat_statements_calls_total", labels, counter(600)),
                series("pg_stat_statements_seconds_total", labels, counter(600 * t * f))], PG
    return build


def replica_not_streaming(f: float):
    # the slot's activity is 1 or 0: "above" is an inactive slot, "below" an active one
    slot = {"job": "postgres", "instance": "10.0.0.5:9187", "slot_name": "postgres_replica_0"}
    return [series("pg_replication_slot_slot_is_active", slot, gauge(0 if f > 1 else 1))], slot


def standby_not_streaming(f: float):
    # the CloudNativePG exporter's WAL receiver query: 0 while not streaming, 1 while it is
    return [series("pg_replication_receiver_up", REPLICA, gauge(0 if f > 1 else 1))], REPLICA


def wal_archiving_failing(f: float):
    # pg_stat_archiver's last failure after (above) or before (below) its last success
    failed, archived = (2e9, 1e9) if f > 1 else (1e9, 2e9)
    return [series("pg_stat_archiver_last_failed_time", PG, gauge(failed)),
            series("pg_stat_archiver_last_archived_time", PG, gauge(archived))], PG


def replication_lag(f: float):
    return [series("pg_replication_lag_seconds", REPLICA,
                   gauge(THRESHOLDS["replication_lag_seconds"] * f))], REPLICA


def nginx_rps(t: float) -> Case:
    # the stack's own threshold: 90% of its API ceiling (prometheus.rps_critical)
    def build(f: float):
        return [series("nginx_http_requests_total", {"job": "nginx", "instance": "10.0.0.8:9113"},
                       counter(t * f * 60))], {}
    return build


def pgbouncer_waiting(f: float):
    labels = {"job": "pgbouncer", "instance": "10.0.0.9:9127", "database": "app", "user": "app"}
    return [series("pgbouncer_pools_client_waiting_connections", labels,
                   gauge(2 if f > 1 else 0))], labels


def target_down(f: float, job: str = "redis"):
    labels = {"job": job, "instance": "10.0.0.5:9121"}
    return [series("up", labels, gauge(0 if f > 1 else 1))], labels


def notifications_failing(f: float):
    # Alertmanager 0.35's counter, per integration, receiver and reason; the rule sums by
    # integration and receiver
    labels = {"job": "alertmanager", "instance": "10.0.0.11:9093", "integration": "slack",
              "receiver_name": "team", "reason": "clientError"}
    return [series("alertmanager_notifications_failed_total", labels,
                   counter(1 if f > 1 else 0))], {"integration": "slack", "receiver_name": "team"}


KUBELET = {"job": "kubelet", "instance": "node-1", "namespace": "ps"}


def volume_usage(t: float, namespace: str) -> Case:
    def build(f: float):
        labels = {**KUBELET, "namespace": namespace, "persistentvolumeclaim": "data-postgres-0"}
        return [series("kubelet_volume_stats_used_bytes", labels, gauge(t * f * 1000)),
                series("kubelet_volume_stats_capacity_bytes", labels, gauge(1000))], labels
    return build


def cpu_throttled(t: float, namespace: str) -> Case:
    def build(f: float):  # 600 CFS periods a minute (100 ms each), a share of them throttled
        labels = {"job": "kubelet-cadvisor", "instance": "node-1", "namespace": namespace,
                  "pod": "api-7d9f-x2x", "container": "api"}
        return [series("container_cpu_cfs_periods_total", labels, counter(600)),
                series("container_cpu_cfs_throttled_periods_total", labels,
                       counter(600 * t * f))], {"pod": "api-7d9f-x2x", "container": "api"}
    return build


def ksm_pair(namespace: str, kind: str, name: str, limit_metric: str, value_metric: str,
             limit: float, above: float, below: float) -> Case:
    """Two kube-state-metrics v2 series of one object, as the stack's own deployment exports
    them (its scrape job): a limit and a value that crosses it (above) or not (below)."""
    def build(f: float):
        labels = {"namespace": namespace, kind: name, "job": kube_state_metrics.NAME,
                  "instance": f"10.0.0.10:{kube_state_metrics.PORT}"}
        return [series(limit_metric, labels, gauge(limit)),
                series(value_metric, labels, gauge(above if f > 1 else below))], labels
    return build


def hpa_at_max(namespace: str, hpa: str = "api") -> Case:
    return ksm_pair(namespace, "horizontalpodautoscaler", hpa,
                    "kube_horizontalpodautoscaler_spec_max_replicas",
                    "kube_horizontalpodautoscaler_status_current_replicas", 6, 6, 5)


def replica_not_serving(namespace: str, replica_set: str = "postgres-replica") -> Case:
    # one of two replicas unready (not streaming, or too far behind)
    return ksm_pair(namespace, "statefulset", replica_set,
                    "kube_statefulset_status_replicas",
                    "kube_statefulset_status_replicas_ready", 2, 1, 2)


def container_labels(namespace: str) -> dict[str, str]:
    return {"namespace": namespace, "pod": "api-7d9f-x2x", "container": "api",
            "job": kube_state_metrics.NAME, "instance": f"10.0.0.10:{kube_state_metrics.PORT}"}


def restarting(namespace: str) -> Case:
    def build(f: float):  # a restart a minute (15 in 15m), or none
        labels = container_labels(namespace)
        return [series("kube_pod_container_status_restarts_total", labels,
                       counter(1 if f > 1 else 0))], labels
    return build


def oom_killed(namespace: str) -> Case:
    def build(f: float):  # last killed at its limit; restarting now, or long ago (no restart)
        labels = container_labels(namespace)
        reason = {**labels, "reason": "OOMKilled"}
        return [series("kube_pod_container_status_last_terminated_reason", reason, gauge(1)),
                series("kube_pod_container_status_restarts_total", labels,
                       counter(0.2 if f > 1 else 0))], reason
    return build


def cases(namespace: str, t: dict[str, float], api: dict | None = None,
          prefix: Callable[[str], str] = lambda key: "") -> dict[str, tuple[Case, str]]:
    """Every alert's promtool case at the stack's own thresholds (`t`: thresholds(stack)),
    with the API's series names (`api`: prometheus.api_series(stack)) and the objects' name
    prefixes (`prefix`: Stack.prefix_of, for a Monitoring on its own)."""
    api = api or PODINFO_SERIES
    out: dict[str, tuple[Case, str]] = {
        "NginxRequestRateCritical": (nginx_rps(t["rps_critical"]), "critical"),
        "PostgresReplicationLag": (replication_lag, "critical"),
        "PostgresReplicaNotStreaming": (replica_not_streaming, "critical"),
        "PostgresStandbyNotStreaming": (standby_not_streaming, "critical"),
        "PostgresWALArchivingFailing": (wal_archiving_failing, "critical"),
        "PgBouncerClientsWaiting": (pgbouncer_waiting, "warning"),
        "ScrapeTargetDown": (target_down, "critical"),
        "AlertmanagerNotificationsFailing": (notifications_failing, "critical"),
        "ContainerCpuThrottled": (cpu_throttled(t["cpu_throttled"], namespace), "warning"),
        "ContainerOOMKilled": (oom_killed(namespace), "warning"),
        "ContainerRestarting": (restarting(namespace), "warning"),
        "HpaAtMaxReplicas": (hpa_at_max(namespace, prefix("api") + "api"), "warning"),
        "PostgresReplicaNotServing": (replica_not_serving(
            namespace, prefix("postgres") + "postgres-replica"), "critical"),
    }
    for level in ("warning", "critical"):
        cap = level.capitalize()
        out |= {f"ApiErrorRate{cap}": (error_rate(t[f"error_rate_{level}"], api), level),
                f"ApiLatencyP99{cap}": (latency_p99(t[f"latency_p99_{level}"], api), level),
                f"RedisMemory{cap}": (redis_memory(t[f"redis_memory_{level}"]), level),
                f"RedisCpu{cap}": (redis_cpu(t[f"redis_cpu_{level}"]), level),
                f"PostgresConnections{cap}": (pg_connections(t[f"pg_connections_{level}"]), level),
                f"PostgresQueryLatency{cap}": (pg_query(t[f"pg_query_{level}"]), level),
                f"PersistentVolumeUsage{cap}": (
                    volume_usage(t[f"volume_usage_{level}"], namespace), level)}
    return out


def expand(template: str, labels: dict[str, str]) -> str:
    """The Go templates of our annotations only read $labels."""
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    assert "{{" not in out, template
    return out


def unit_tests(rules_text: str, namespace: str, t: dict[str, float],
               api: dict | None = None, prefix: Callable[[str], str] = lambda key: "") -> dict:
    rules = {r["alert"]: r for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"]}
    known = cases(namespace, t, api, prefix)
    assert set(rules) <= set(known), f"alerts without a promtool case: {set(rules) - set(known)}"
    tests = []
    for alert, rule in rules.items():
        build, severity = known[alert]
        if alert == "ScrapeTargetDown":  # a job the stack scrapes (not every stack has Redis)
            first = rule["expr"].split('"')[1].split("|")[0]
            build = lambda f, j=first: target_down(f, j)  # noqa: E731
        assert rule["labels"] == {"severity": severity}
        for factor in (ABOVE, BELOW):
            input_series, labels = build(factor)
            expected = [] if factor < 1 else [{
                "exp_labels": {**labels, "severity": severity},
                "exp_annotations": {k: expand(v, labels)
                                    for k, v in rule["annotations"].items()}}]
            tests.append({"interval": "1m", "input_series": input_series,
                          "alert_rule_test": [{"eval_time": EVAL, "alertname": alert,
                                               "exp_alerts": expected}]})
    return {"rule_files": [RULES_FILE], "evaluation_interval": "1m", "tests": tests}


@pytest.mark.parametrize("name", STACKS)
def test_check_config(name, tmp_path):
    stack = load(name, ROOT).stack
    config = tmp_path / "prometheus.yml"
    config.write_text(config_text(stack, tmp_path))
    (tmp_path / RULES_FILE).write_text(monitoring.alert_rules(stack))  # beside it, as mounted
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid prometheus config file syntax" in result.stdout
    if stack.monitoring.alerts:
        assert "SUCCESS: 1 rule files found" in result.stdout
        # the relative path resolves beside prometheus.yml: without the file the check fails
        (tmp_path / RULES_FILE).unlink()
        assert promtool("check", "config", str(config)).returncode != 0
    else:
        assert "rule files found" not in result.stdout


@pytest.mark.parametrize("name", STACKS)
def test_check_rules(name, tmp_path):
    stack = load(name, ROOT).stack
    text = monitoring.alert_rules(stack)
    path = tmp_path / RULES_FILE
    path.write_text(text)
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in yaml.safe_load(text)["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


def checked(stack: Stack, where: Path) -> tuple[Path, Path]:
    """The stack's prometheus.yml and alerts.yml, written to `where`, that promtool accepts."""
    config, rules = where / "prometheus.yml", where / RULES_FILE
    config.write_text(config_text(stack, where))
    rules.write_text(monitoring.alert_rules(stack))
    for args in (("check", "config", str(config)), ("check", "rules", str(rules))):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr
    return config, rules


def test_an_api_without_metrics_gets_no_api_job_alert_or_panel(tmp_path):
    """Issue 14 item 4: api.metrics.enabled false (an app without /metrics) once meant a
    permanent critical ScrapeTargetDown for job api and empty API dashboards."""
    stack = Stack.for_phase("phase2", namespace="quiet", api={"metrics": {"enabled": False}})
    config, rules = checked(stack, tmp_path)
    jobs = [j["job_name"] for j in yaml.safe_load(config.read_text())["scrape_configs"]]
    assert "api" not in jobs and "nginx" in jobs
    alerts = {r["alert"]: r for g in yaml.safe_load(rules.read_text())["groups"]
              for r in g["rules"]}
    assert not [a for a in alerts if a.startswith("ApiErrorRate") or a.startswith("ApiLatency")]
    assert "api" not in alerts["ScrapeTargetDown"]["expr"].split('"')[1].split("|")
    assert "HpaAtMaxReplicas" in alerts  # the API's HPA is still watched
    # and the alerts that remain still fire and stay silent at their thresholds
    tests = unit_tests(rules.read_text(), stack.namespace, thresholds(stack))
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_monitoring_on_its_own_config_and_rules(tmp_path):
    """issue 13 item 2: a Monitoring watching a program's instances (sessions-redis,
    orders-postgres with a replica, pool-pgbouncer, shop-api with an HPA): promtool accepts the
    config and the rules, and each alert fires and stays silent on the instances' objects."""
    from phasestack.model import ApiArgs, MonitoringArgs, PgBouncerArgs, PostgresArgs, RedisArgs

    server = {"host": "orders-postgres.shop.svc.cluster.local", "password_secret": "x",
              "max_connections": 300}
    stack = MonitoringArgs(namespace="shop", alerts=True, watch=[
        ("sessions", RedisArgs(namespace="shop", maxmemory_mb=512)),
        ("orders", PostgresArgs(namespace="shop", read_replicas=1, max_connections=300)),
        ("pool", PgBouncerArgs(namespace="shop", server=server)),
        ("shop", ApiArgs(namespace="shop", hpa={"enabled": True}, database=server))]
    ).stack("obs-")
    config, rules = checked(stack, tmp_path)
    jobs = [j["job_name"] for j in yaml.safe_load(config.read_text())["scrape_configs"]]
    assert jobs == ["prometheus", "api", "redis", "postgres", "postgres-replica", "pgbouncer",
                    "kube-state-metrics"]
    text = rules.read_text()
    assert 'horizontalpodautoscaler=~"shop-api"' in text
    assert 'statefulset="orders-postgres-replica"' in text
    tests = unit_tests(text, stack.namespace, thresholds(stack), prometheus.api_series(stack),
                       stack.prefix_of)
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(tests["tests"]) == 2 * text.count("- alert:")


def test_a_cloudnativepg_stack_config_and_rules(tmp_path):
    """engine cloudnativepg: promtool accepts the config (the role-following jobs and the
    cnpg_ prefix stripped at scrape) and every alert, the standby and WAL-archiving ones
    included, fires above and stays silent below."""
    stack = Stack.for_phase("phase3", namespace="pay", postgres={
        "engine": "cloudnativepg",
        "backup": {"store": {"destination": "s3://backups/pay", "credentials_secret": "s3"}}})
    config, rules = checked(stack, tmp_path)
    jobs = {j["job_name"]: j for j in yaml.safe_load(config.read_text())["scrape_configs"]}
    assert jobs["postgres"]["metric_relabel_configs"][0]["regex"] == "cnpg_(.+)"
    text = rules.read_text()
    assert "PostgresStandbyNotStreaming" in text and "PostgresWALArchivingFailing" in text
    tests = unit_tests(text, stack.namespace, thresholds(stack), prometheus.api_series(stack))
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(tests["tests"]) == 2 * text.count("- alert:")


def distinct_rule_sets() -> list[str]:
    """One stack per distinct rule text (namespaces aside): promtool takes ~3 s a run."""
    seen: dict[str, str] = {}
    for name in STACKS:
        stack = load(name, ROOT).stack
        seen.setdefault(monitoring.alert_rules(stack).replace(stack.namespace, "NS"), name)
    return list(seen.values())


@pytest.mark.parametrize("name", distinct_rule_sets())
def test_each_alert_fires_above_and_stays_silent_below(name, tmp_path):
    stack = load(name, ROOT).stack
    text = monitoring.alert_rules(stack)
    (tmp_path / RULES_FILE).write_text(text)
    tests = unit_tests(text, stack.namespace, thresholds(stack), prometheus.api_series(stack))
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert len(tests["tests"]) == 2 * text.count("- alert:")


def test_a_wrong_expectation_fails(tmp_path):
    """The harness can fail: expecting the silent case to fire is reported by promtool."""
    stack = load("phase1", ROOT).stack
    text = monitoring.alert_rules(stack)
    (tmp_path / RULES_FILE).write_text(text)
    tests = unit_tests(text, stack.namespace, thresholds(stack), prometheus.api_series(stack))
    silent = next(t for t in tests["tests"]
                  if t["alert_rule_test"][0]["alertname"] == "RedisMemoryCritical"
                  and not t["alert_rule_test"][0]["exp_alerts"])
    silent["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {**REDIS,
                                                                  "severity": "critical"}}]
    tests["tests"] = [silent]
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode != 0
    assert "RedisMemoryCritical" in result.stdout + result.stderr


def test_real_prometheus_loads_config_and_rules(tmp_path, servers):
    """Prometheus 3.16.0 starts on the rendered files and serves every rule group; the
    kubelet jobs (monitoring.node_metrics) are loaded, their discovery needing a cluster."""
    binary = str(prometheus_bin() / "prometheus")
    stack = load("phase2", ROOT).stack
    (tmp_path / "prometheus.yml").write_text(config_text(stack, tmp_path))
    rules_text = monitoring.alert_rules(stack)
    (tmp_path / RULES_FILE).write_text(rules_text)
    port = free_port()
    servers.start([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                   f"--storage.tsdb.path={tmp_path / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log")

    def get(path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return json.load(r) if path.startswith("/api") else {"status": r.status}

    wait_for(lambda: get("/-/ready")["status"] == 200, what="prometheus")
    groups = get("/api/v1/rules")["data"]["groups"]
    assert sorted(g["name"] for g in groups) == sorted(
        g["name"] for g in yaml.safe_load(rules_text)["groups"])
    loaded = {r["name"] for g in groups for r in g["rules"]}
    assert {"RedisMemoryCritical", "PostgresReplicationLag", "PgBouncerClientsWaiting"} <= loaded

    def jobs() -> set[str]:
        targets = get("/api/v1/targets?state=any")["data"]["activeTargets"]
        return {t["labels"]["job"] for t in targets}
    # the self-scrape appears; the DNS jobs find no pods outside a cluster
    wait_for(lambda: "prometheus" in jobs(), timeout=15, what="self-scrape target")
    config = get("/api/v1/status/config")["data"]["yaml"]
    assert "scrape-postgres-replica.ps-phase2.svc.cluster.local" in config
    # the HPA alert's series have a scrape job: the stack's kube-state-metrics
    assert "scrape-kube-state-metrics.ps-phase2.svc.cluster.local" in config
    assert "HpaAtMaxReplicas" in loaded
    # the kubelets' jobs and rules (node_metrics, on in phase2)
    assert "job_name: kubelet-cadvisor" in config and "role: node" in config
    assert {"ContainerCpuThrottled", "PersistentVolumeUsageCritical"} <= loaded


@pytest.mark.parametrize("name", STACKS)
def test_every_dashboard_query_is_valid_promql(name, tmp_path):
    """promtool parses each panel's query (as a recording rule), the pod variable set to All,
    and the series query behind the pod variable."""
    stack = load(name).stack
    rules = []
    for key, text in grafana.dashboards(stack).items():
        board = json.loads(text)
        (pod,) = board["templating"]["list"]
        assert pod["allValue"] == ".*"
        values = re.fullmatch(r"label_values\((.*), instance\)", pod["query"]["query"])
        exprs = [values[1]] + [p["targets"][0]["expr"] for p in board["panels"]]
        assert all("$pod" in e for e in exprs[1:]), key
        rules += [{"record": f"dashboard:{key[:-5].replace('-', '_')}:{i}",
                   "expr": e.replace("$pod", pod["allValue"])} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout

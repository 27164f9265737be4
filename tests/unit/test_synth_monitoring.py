"""Monitoring synthesizer: scrape jobs per phase, review 002 thresholds, dashboards, manifests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from phasestack.model import Stack
from phasestack.plan.capacity import plan
from phasestack.stackfile import list_stack_files, load
from phasestack.synth import grafana, monitoring, prometheus
from phasestack.synth.common import GRAFANA_SECRET, Flow
from tests.unit.conftest import statefulset

ROOT = Path(__file__).resolve().parents[2]
STACKS = [p.name[len("Pulumi."):-len(".yaml")] for p in list_stack_files(ROOT)]


def stack(name: str) -> Stack:
    return load(name, ROOT).stack


def config(name: str) -> dict:
    return yaml.safe_load(monitoring.prometheus_yml(stack(name)))


def rules(name: str) -> dict[str, dict]:
    doc = yaml.safe_load(monitoring.alert_rules(stack(name)))
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def by_kind(docs: list[dict], kind: str, name: str) -> dict:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def job_names(name: str) -> list[str]:
    return [j["job_name"] for j in config(name)["scrape_configs"]]


def test_scrape_jobs_per_phase():
    # kube-state-metrics only where there is an HPA (mvp: none)
    assert job_names("mvp") == ["prometheus", "api", "nginx", "redis", "postgres"]
    assert job_names("phase1") == ["prometheus", "api", "nginx", "redis", "postgres",
                                   "pgbouncer", "kube-state-metrics"]
    for name in ("phase2", "phase3"):  # + the kubelets (monitoring.node_metrics)
        assert job_names(name) == ["prometheus", "api", "nginx", "redis", "postgres",
                                   "postgres-replica", "pgbouncer", "kube-state-metrics",
                                   "kubelet-cadvisor", "kubelet"]


def test_scrape_targets_use_headless_dns_and_exporter_ports():
    jobs = {j["job_name"]: j for j in config("phase2")["scrape_configs"]}
    expected = {"api": 9898, "nginx": 9113, "redis": 9121, "postgres": 9187,
                "postgres-replica": 9187, "pgbouncer": 9127, "kube-state-metrics": 8080}
    for job, port in expected.items():
        (sd,) = jobs[job]["dns_sd_configs"]
        assert sd == {"names": [f"scrape-{job}.ps-phase2.svc.cluster.local"], "type": "A",
                      "port": port, "refresh_interval": "30s"}
        assert jobs[job]["metrics_path"] == "/metrics"
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["localhost:9090"]}]


def test_scrape_interval_and_rule_files_follow_the_model():
    mvp = config("mvp")
    assert mvp["global"]["scrape_interval"] == "15s"
    assert mvp["rule_files"] == ["alerts.yml"]  # the mvp has rules too (issue 15)
    assert config("phase1")["rule_files"] == ["alerts.yml"]
    off = stack("mvp").model_copy(update={"monitoring": stack("mvp").monitoring.model_copy(
        update={"alerts": False})})
    assert "rule_files" not in yaml.safe_load(monitoring.prometheus_yml(off))
    custom = stack("phase1").model_copy(update={"monitoring": stack("phase1").monitoring
                                                .model_copy(update={"scrape_interval": "30s"})})
    assert yaml.safe_load(monitoring.prometheus_yml(custom))["global"]["scrape_interval"] == "30s"
    assert yaml.safe_load(monitoring.prometheus_yml(custom, rule_files=["/x/r.yml"]))[
        "rule_files"] == ["/x/r.yml"]


def test_review_002_thresholds_exact():
    r = rules("phase3")
    def threshold(alert: str) -> float:
        return float(re.search(r">=?\s*([0-9.]+)\s*$", r[alert]["expr"].strip()).group(1))
    assert threshold("RedisMemoryWarning") == 0.6
    assert threshold("RedisMemoryCritical") == 0.8
    assert threshold("ApiErrorRateWarning") == 0.005
    assert threshold("ApiErrorRateCritical") == 0.01
    assert threshold("ApiLatencyP99Warning") == 0.3
    assert threshold("ApiLatencyP99Critical") == 0.5
    assert threshold("PostgresConnectionsWarning") == 0.6   # 12/20
    assert threshold("PostgresConnectionsCritical") == 0.9  # 18/20
    assert threshold("PostgresQueryLatencyWarning") == 0.05
    assert threshold("PostgresQueryLatencyCritical") == 0.1
    # 90% of the API ceiling: 40 pods x 100 rps x 70% CPU = 2,800 rps -> 2,520
    assert threshold("NginxRequestRateCritical") == 2520
    assert threshold("RedisCpuWarning") == 0.5
    assert threshold("RedisCpuCritical") == 0.7
    assert threshold("PostgresReplicationLag") == 30
    assert threshold("PgBouncerClientsWaiting") == 0
    assert r["PgBouncerClientsWaiting"]["for"] == "1m"
    assert r["HpaAtMaxReplicas"]["for"] == "15m"
    assert "redis_memory_used_bytes" in r["RedisMemoryCritical"]["expr"]
    assert "pg_settings_max_connections" in r["PostgresConnectionsCritical"]["expr"]


@pytest.mark.parametrize(("name", "ceiling", "threshold"), [
    ("mvp", 140, 126), ("phase2", 1400, 1260), ("phase3", 2800, 2520),
    ("zeropay-mvp", 210, 189)])
def test_request_rate_alert_is_90_percent_of_the_stacks_api_ceiling(name, ceiling, threshold):
    s = stack(name)
    # the planner's throughput check: max API pods x pod_rps x HPA CPU target
    cap = next(c for c in plan(s).checks if c.name == "api_throughput").limit_rps
    assert prometheus.api_capacity_rps(s) == pytest.approx(cap) == pytest.approx(ceiling)
    assert prometheus.rps_critical(s) == threshold
    rule = rules(name)["NginxRequestRateCritical"]
    assert rule["expr"].rstrip().endswith(f"> {threshold}")
    assert rule["annotations"]["summary"] == f"Request rate above {threshold} rps"
    # the same number colours the request-rate panels
    for board in ("api.json", "nginx.json"):
        panel = json.loads(grafana.dashboards(s)[board])["panels"][0]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [st["value"] for st in steps] == [None, threshold]


def test_review_002_burst_peak_does_not_page_at_phase3():
    # review 002: 1,666 rps is the design peak (section 2); 1,500 (section 12) is ~90% of it.
    # The generic phase3 keeps 90% of its own ceiling; zeropay-phase3 takes the review's
    # number as the review states it (issue 12), and so pages at its own design peak.
    assert prometheus.rps_critical(stack("phase3")) > 1666
    assert prometheus.rps_critical(stack("zeropay-phase3")) == 1500


def test_shown_numbers_are_rounded_not_truncated(monkeypatch):
    # 0.58 * 100 is 57.99999999999999: the summary must say 58%, not 57%
    monkeypatch.setitem(prometheus.THRESHOLDS, "redis_memory_warning", 0.58)
    monkeypatch.setitem(prometheus.THRESHOLDS, "pg_query_warning", 0.057)
    r = rules("phase2")
    assert "memory above 58% of maxmemory" in r["RedisMemoryWarning"]["annotations"]["summary"]
    assert r["RedisMemoryWarning"]["expr"].rstrip().endswith("> 0.58")
    assert "mean query time above 57ms" in r["PostgresQueryLatencyWarning"]["annotations"][
        "summary"]
    assert r["ApiErrorRateWarning"]["annotations"]["summary"] == "API error rate above 0.5%"


def test_alert_template_only_renders_data():
    text = (ROOT / "templates/prometheus/alerts.yml.j2").read_text()
    assert "| int" not in text and "format(" not in text and " * " not in text


def test_every_rule_has_severity_and_annotations():
    for name in STACKS:
        for alert, rule in rules(name).items():
            assert rule["labels"]["severity"] in ("warning", "critical"), alert
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_rules_only_for_components_present():
    mvp, p1, p2 = rules("mvp"), rules("phase1"), rules("phase2")
    on_cnpg, p2 = p2, {r["alert"]: r for g in yaml.safe_load(monitoring.alert_rules(
        statefulset(stack("phase2"))))["groups"] for r in g["rules"]}
    # CloudNativePG (phase2's engine): the standbys' receivers, not the StatefulSet's slots
    assert "PostgresStandbyNotStreaming" in on_cnpg and "PostgresReplicaNotServing" not in on_cnpg
    assert "PgBouncerClientsWaiting" not in mvp and "PgBouncerClientsWaiting" in p1
    assert "PostgresReplicationLag" not in p1 and "PostgresReplicationLag" in p2
    # the replica's readiness (streaming, caught up) as kube-state-metrics reports it
    assert "PostgresReplicaNotServing" not in p1 and "PostgresReplicaNotServing" in p2
    assert 'statefulset="postgres-replica"' in p2["PostgresReplicaNotServing"]["expr"]
    assert "HpaAtMaxReplicas" not in mvp  # no HPA in the mvp
    assert 'horizontalpodautoscaler=~"api"' in p1["HpaAtMaxReplicas"]["expr"]
    assert 'horizontalpodautoscaler=~"api|nginx"' in rules("phase3")["HpaAtMaxReplicas"]["expr"]
    assert "kube-state-metrics" not in mvp["ScrapeTargetDown"]["expr"]
    assert "kube-state-metrics" in p1["ScrapeTargetDown"]["expr"]  # a silent KSM is noticed
    assert "pgbouncer" not in mvp["ScrapeTargetDown"]["expr"]


def test_hpa_alert_reads_kube_state_metrics_v2_series():
    expr = rules("phase3")["HpaAtMaxReplicas"]["expr"]
    sel = ('{job="kube-state-metrics", namespace="ps-phase3", '
           'horizontalpodautoscaler=~"api|nginx"}')
    assert f"kube_horizontalpodautoscaler_status_current_replicas{sel}" in expr
    assert f"kube_horizontalpodautoscaler_spec_max_replicas{sel}" in expr
    assert "not deployed" not in monitoring.alert_rules(stack("phase3"))


def test_query_latency_alert_reads_the_stat_statements_collector():
    expr = rules("phase2")["PostgresQueryLatencyCritical"]["expr"]
    # postgres_exporter v0.15 collector/pg_stat_statements.go metric names
    assert re.search(r"rate\(pg_stat_statements_seconds_total\{[^}]*\}\[5m\]\)\)\s*/"
                     r"\s*sum by \(job, instance\) \(rate\(pg_stat_statements_calls_total",
                     expr), expr
    assert 'job=~"postgres|postgres-replica"' in expr


def test_rule_comments_cite_reviews():
    text = monitoring.alert_rules(stack("phase1"))
    assert "review 002 (002_f99052a1f9a0162e.txt)" in text
    assert "review 001 (001_9fbd6927d93be06f.txt)" in text
    assert "kube-state-metrics" in text


def test_manifests_per_phase():
    mvp = monitoring.manifests(stack("mvp"))
    assert not [d for d in mvp if "grafana" in d["metadata"]["name"]]
    cm = by_kind(mvp, "ConfigMap", "prometheus")
    assert set(cm["data"]) == {"prometheus.yml", "alerts.yml"}
    p1 = monitoring.manifests(stack("phase1"))
    assert set(by_kind(p1, "ConfigMap", "prometheus")["data"]) == {"prometheus.yml", "alerts.yml"}
    for kind, name in [("Deployment", "grafana"), ("Service", "grafana"),
                       ("ConfigMap", "grafana-dashboards"), ("ServiceAccount", "prometheus"),
                       ("PersistentVolumeClaim", "prometheus-data")]:
        assert by_kind(p1, kind, name)["metadata"]["namespace"] == "ps-phase1"
    no_prom = stack("mvp").model_copy(update={"monitoring": stack("mvp").monitoring.model_copy(
        update={"prometheus": False})})
    assert monitoring.manifests(no_prom) == [] and monitoring.flows(no_prom) == []


def test_prometheus_deployment():
    docs = monitoring.manifests(Stack.for_phase("phase2", monitoring={"node_metrics": False},
                                                postgres={"engine": "statefulset"}))
    dep = by_kind(docs, "Deployment", "prometheus")
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    assert spec["securityContext"]["runAsUser"] == 65534
    assert spec["serviceAccountName"] == "prometheus"
    assert spec["automountServiceAccountToken"] is False  # DNS discovery needs no token
    assert "--storage.tsdb.retention.time=15d" in c["args"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in c["args"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert c["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    pvc = by_kind(docs, "PersistentVolumeClaim", "prometheus-data")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert by_kind(docs, "Service", "prometheus")["spec"]["ports"][0]["port"] == 9090
    scrape = by_kind(docs, "Service", "scrape-postgres-replica")["spec"]
    assert scrape["clusterIP"] == "None" and scrape["publishNotReadyAddresses"] is True
    assert scrape["selector"] == {"app.kubernetes.io/name": "postgres-replica"}
    # the only RBAC is kube-state-metrics' own namespaced Role; Prometheus has none
    assert {(d["kind"], d["metadata"]["name"]) for d in docs
            if d["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")} == {
        ("Role", "kube-state-metrics"), ("RoleBinding", "kube-state-metrics")}


def test_config_checksum_changes_with_config():
    def checksum(s: Stack) -> str:
        dep = by_kind(monitoring.manifests(s), "Deployment", "prometheus")
        return dep["spec"]["template"]["metadata"]["annotations"]["phasestack.io/config-hash"]
    base = stack("phase1")
    other = base.model_copy(update={"monitoring": base.monitoring.model_copy(
        update={"scrape_interval": "30s"})})
    assert checksum(base) != checksum(other)


def test_grafana_deployment():
    docs = monitoring.manifests(stack("phase1"))
    spec = by_kind(docs, "Deployment", "grafana")["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert spec["securityContext"]["runAsUser"] == 472
    env = {e["name"]: e for e in c["env"]}
    # the password as a file (GF_*__FILE), never in the environment
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"]["value"] == \
        "/run/secrets/credentials/admin-password"
    assert {"name": "credentials", "secret": {
        "secretName": GRAFANA_SECRET, "defaultMode": 0o440,
        "items": [{"key": "admin-password", "path": "admin-password"}]}} in spec["volumes"]
    assert not [e for e in c["env"] if "valueFrom" in e]
    assert all(e["name"].endswith("__FILE") or "PASSWORD" not in e["name"] for e in c["env"])
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/var/lib/grafana", "/tmp"} <= mounts
    assert c["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert by_kind(docs, "Service", "grafana")["spec"]["ports"][0]["port"] == 3000
    ds = yaml.safe_load(by_kind(docs, "ConfigMap", "grafana-datasources")["data"]["prometheus.yml"])
    assert ds["datasources"][0]["url"] == "http://prometheus.ps-phase1.svc.cluster.local:9090"


@pytest.mark.parametrize("name", STACKS)
def test_dashboards_valid_json_with_panels(name):
    s = stack(name)
    boards = grafana.dashboards(s)
    # what the stack runs: no nginx, Redis or managed PostgreSQL board without them
    expected = {c for c in ("api", "nginx", "redis", "postgres") if s.runs(c)} | (
        {"pgbouncer"} if s.pgbouncer.enabled else set()) | (
        {"kube-state-metrics"} if s.api.hpa.enabled or (s.has("nginx") and s.nginx.hpa.enabled)
        else set()) | ({"alertmanager"} if s.monitoring.alerting.alertmanager else set())
    assert set(boards) == {f"{c}.json" for c in expected}
    for key, text in boards.items():
        board = json.loads(text)
        assert board["panels"], key
        for panel in board["panels"]:
            assert panel["targets"][0]["expr"]
            assert panel["datasource"]["uid"] == "prometheus"
    if s.runs("postgres"):
        pg = json.loads(boards["postgres.json"])
        titles = [p["title"] for p in pg["panels"]]
        assert ("Replication lag" in titles) == (s.postgres.read_replicas > 0)
    if s.runs("redis"):
        redis = json.loads(boards["redis.json"])["panels"][0]
        steps = redis["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [st["value"] for st in steps] == [None, 0.6, 0.8]


def test_dashboards_have_a_pod_variable_that_scopes_every_panel():
    boards = grafana.dashboards(stack("phase2"))
    redis = json.loads(boards["redis.json"])
    (pod,) = redis["templating"]["list"]
    assert (pod["name"], pod["label"], pod["type"]) == ("pod", "Pod (address)", "query")
    assert pod["query"]["query"] == 'label_values(up{job=~"redis"}, instance)'
    assert (pod["multi"], pod["includeAll"], pod["allValue"]) == (True, True, ".*")
    assert redis["panels"][2]["targets"][0]["expr"] == (
        'sum by (instance) (rate(redis_commands_processed_total{job="redis", '
        'instance=~"$pod"}[1m]))')
    pg = json.loads(boards["postgres.json"])
    assert pg["templating"]["list"][0]["query"]["query"] == (
        'label_values(up{job=~"postgres|postgres-replica"}, instance)')
    assert pg["panels"][0]["targets"][0]["expr"] == (
        'sum by (job, instance) (pg_stat_activity_count{job=~"postgres|postgres-replica", '
        'instance=~"$pod"}) / max by (job, instance) (pg_settings_max_connections'
        '{job=~"postgres|postgres-replica", instance=~"$pod"})')
    for text in boards.values():  # every selector of every panel is scoped to the pod
        for panel in json.loads(text)["panels"]:
            expr = panel["targets"][0]["expr"]
            assert expr.count('instance=~"$pod"') == expr.count("{") > 0, expr


def test_flows():
    p1 = set(monitoring.flows(stack("phase1")))
    assert p1 == {Flow("prometheus", "api", 9898), Flow("prometheus", "nginx", 9113),
                  Flow("prometheus", "redis", 9121), Flow("prometheus", "postgres", 9187),
                  Flow("prometheus", "pgbouncer", 9127), Flow("grafana", "prometheus", 9090),
                  Flow("*", "grafana", 3000), Flow("prometheus", "kube-state-metrics", 8080),
                  Flow("kube-state-metrics", "*", 443), Flow("kube-state-metrics", "*", 6443)}
    mvp = set(monitoring.flows(stack("mvp")))
    assert not [f for f in mvp if "kube-state-metrics" in (f.src, f.dst)]
    assert Flow("prometheus", "pgbouncer", 9127) not in mvp
    assert not [f for f in mvp if "grafana" in (f.src, f.dst)]
    assert Flow("prometheus", "postgres-replica", 9187) in set(monitoring.flows(
        statefulset(stack("phase2"))))
    # CloudNativePG (phase2's engine): every instance is a pod named postgres, by role
    assert Flow("prometheus", "postgres-replica", 9187) not in set(monitoring.flows(
        stack("phase2")))


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_kubernetes_validate_strict(name, version):
    for doc in monitoring.manifests(stack(name)):
        kubernetes_validate.validate(doc, version, strict=True)


def test_api_metrics_off_drops_the_api_job_alerts_and_dashboard():
    s = Stack.for_phase("phase2", api={"metrics": {"enabled": False}})
    assert "api" not in [j.name for j in prometheus.jobs(s)]
    alerts = {r["alert"] for g in yaml.safe_load(prometheus.alert_rules(s))["groups"]
              for r in g["rules"]}
    assert not {a for a in alerts if a.startswith("Api")}
    assert "HpaAtMaxReplicas" in alerts
    assert "api.json" not in grafana.dashboards(s)
    assert "scrape-api" not in {d["metadata"]["name"] for d in prometheus.scrape_services(s)}
    # no HPA either: the api group is gone, not left empty
    quiet = Stack(monitoring={"alerts": True}, api={"metrics": {"enabled": False}})
    assert "api" not in [g["name"] for g in yaml.safe_load(prometheus.alert_rules(quiet))
                         ["groups"]]


def test_api_metrics_names_and_port_are_settings():
    s = Stack.for_phase("phase2", api={"port": 3000, "metrics": {
        "port": 9464, "path": "/prom", "requests_total": "http_server_requests_total",
        "status_label": "code", "duration_bucket": None}})
    (job,) = [j for j in prometheus.jobs(s) if j.name == "api"]
    assert (job.port, job.path) == (9464, "/prom")
    rules_text = prometheus.alert_rules(s)
    assert 'http_server_requests_total{job="api", code=~"5.."}' in rules_text
    assert "ApiLatencyP99" not in rules_text  # no histogram named
    panels = json.loads(grafana.dashboards(s)["api.json"])["panels"]
    assert [p["title"] for p in panels] == ["Requests per second", "Error rate (5xx)", "Pods up"]
    from phasestack.synth import api
    dep = by_kind(api.manifests(s), "Deployment", "api")
    ports = dep["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [(p["name"], p["containerPort"]) for p in ports] == [("http", 3000), ("metrics", 9464)]
    assert Flow("prometheus", "api", 9464) in monitoring.flows(s)


@pytest.mark.parametrize("name", [p.name[len("Pulumi."):-len(".yaml")]
                                  for p in list_stack_files(ROOT)])
def test_alert_texts_cite_no_review(name):
    """Issue 15: an on-call page reads the summary and description; the review a threshold
    comes from stays in the rule file's comments."""
    text = monitoring.alert_rules(load(name, ROOT).stack)
    for group in yaml.safe_load(text)["groups"]:
        for rule in group["rules"]:
            for key, value in rule["annotations"].items():
                assert "review" not in value.lower(), (rule["alert"], key, value)
    assert "review 002" in text or "- alert:" not in text  # the citations are comments

"""synth.cnpg: the Cluster and ScheduledBackup a stack with postgres.engine: cloudnativepg gets,
checked against the operator's own CRD schemas (vendored release manifest), strictly."""

from __future__ import annotations

import pytest
import yaml

from phasestack.model import Stack
from phasestack.synth import cnpg, cnpg_operator, prometheus, synthesize
from phasestack.synth.secrets import CREDENTIALS
from tests.unit.crd_schema import errors

BACKUP = {"store": {"destination": "s3://backups/zeropay/", "endpoint_url": "http://10.0.0.9:9000",
                    "credentials_secret": "backup-s3",
                    "egress": {"allow": [{"cidr": "10.0.0.9", "ports": [9000]}]}},
          "archive_timeout_s": 60, "retention_days": 14}
VALUES = {c: f"test-{c}-0123456789" for c in CREDENTIALS}


def stack(**postgres) -> Stack:
    """phase3 (CloudNativePG) as a new database: no copy of an old primary."""
    fresh = {"cloudnativepg": {"import_from_statefulset": False}}
    return Stack.for_phase("phase3", namespace="pay", postgres={**fresh, **postgres})


def by_kind(s: Stack, kind: str) -> list[dict]:
    return [d for d in synthesize(s, VALUES) if d["kind"] == kind]


@pytest.mark.parametrize("postgres", [{}, {"backup": BACKUP}, {"read_replicas": 0},
                                      {"cloudnativepg": {"synchronous": "preferred",
                                                         "anti_affinity": "required"}},
                                      {"cloudnativepg": {"import_from_statefulset": True}}])
def test_custom_resources_pass_the_operators_crd_schema_strict(postgres):
    s = stack(**postgres)
    docs = [d for d in synthesize(s, VALUES) if d["apiVersion"].startswith("postgresql.cnpg.io")]
    assert {d["kind"] for d in docs} == ({"Cluster", "ScheduledBackup"} if "backup" in postgres
                                         else {"Cluster"})
    for doc in docs:
        assert errors(doc) == [], doc["kind"]


def test_the_strict_check_refuses_an_unknown_field_and_a_wrong_type():
    (cluster,) = by_kind(stack(), "Cluster")
    bad = {**cluster, "spec": {**cluster["spec"], "instancess": 3,
                               "storage": {"size": 20}}}
    assert sorted(errors(bad)) == [
        "spec.storage.size: 20 is not of type 'string'",
        "spec: Additional properties are not allowed ('instancess' was unexpected)"]


def test_cluster_carries_the_stacks_postgres_section():
    (cluster,) = by_kind(stack(backup=BACKUP), "Cluster")
    spec = cluster["spec"]
    assert spec["instances"] == 4  # the phase3 preset's 3 read replicas + the primary
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1,
                                                 "dataDurability": "required"}
    assert spec["postgresql"]["parameters"] == {
        "max_connections": "200", "superuser_reserved_connections": "3",
        "shared_buffers": "256MB", "pg_stat_statements.track": "top",
        "max_slot_wal_keep_size": "5120MB", "log_min_duration_statement": "1000",
        "log_lock_waits": "on", "archive_timeout": "60s"}
    assert spec["bootstrap"]["initdb"] == {
        "database": "app", "owner": "app", "secret": {"name": "postgres-app"},
        "postInitApplicationSQL": ["ALTER ROLE app SET statement_timeout = '30s'",
                                   "ALTER ROLE app SET lock_timeout = '5s'"]}
    assert spec["probes"] == {"readiness": {"type": "streaming", "maximumLag": "64Mi"}}
    assert spec["backup"] == {
        "barmanObjectStore": {
            "destinationPath": "s3://backups/zeropay", "serverName": "postgres",
            "endpointURL": "http://10.0.0.9:9000",
            "s3Credentials": {"accessKeyId": {"name": "backup-s3", "key": "ACCESS_KEY_ID"},
                              "secretAccessKey": {"name": "backup-s3",
                                                  "key": "ACCESS_SECRET_KEY"}},
            "wal": {"compression": "gzip"}, "data": {"compression": "gzip"}},
        "retentionPolicy": "14d"}
    assert spec["inheritedMetadata"]["labels"]["app.kubernetes.io/name"] == "postgres"
    (sb,) = by_kind(stack(backup=BACKUP), "ScheduledBackup")
    assert sb["spec"] == {"schedule": "0 0 3 * * *", "immediate": True,
                          "method": "barmanObjectStore", "backupOwnerReference": "self",
                          "cluster": {"name": "postgres"}}


def test_no_standby_no_synchronous_and_off_is_asynchronous():
    for s in (stack(read_replicas=0), stack(cloudnativepg={"synchronous": "off",
                                                           "import_from_statefulset": False})):
        (cluster,) = by_kind(s, "Cluster")
        assert "synchronous" not in cluster["spec"]["postgresql"]


def test_wiring_points_at_the_operators_services():
    s = stack()
    ini = [d for d in by_kind(s, "ConfigMap") if d["metadata"]["name"] == "pgbouncer"][0]
    text = ini["data"]["pgbouncer.ini"]
    assert "host=postgres-rw.pay.svc.cluster.local" in text
    assert "host=postgres-ro.pay.svc.cluster.local" in text
    assert not by_kind(s, "StatefulSet") or all(
        d["metadata"]["name"].startswith("redis") for d in by_kind(s, "StatefulSet"))
    secret = [d for d in by_kind(s, "Secret") if d["metadata"]["name"] == "postgres-app"][0]
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["stringData"] == {"username": "app", "password": VALUES["appPassword"]}


def test_scrape_jobs_follow_the_roles_and_strip_the_prefix():
    s = stack()
    jobs = {j.name: j for j in prometheus.jobs(s)}
    assert jobs["postgres"].selector == {"app.kubernetes.io/name": "postgres",
                                         "cnpg.io/instanceRole": "primary"}
    assert jobs["postgres-replica"].selector == {"app.kubernetes.io/name": "postgres",
                                                 "cnpg.io/instanceRole": "replica"}
    config = yaml.safe_load(prometheus.prometheus_yml(s))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "postgres"]
    assert job["metric_relabel_configs"] == [{"source_labels": ["__name__"], "regex": "cnpg_(.+)",
                                              "target_label": "__name__", "replacement": "$1"}]


def test_queries_name_the_series_the_alerts_read():
    queries = yaml.safe_load(cnpg.QUERIES)
    names = {f"{q}_{next(iter(m))}" for q, spec in queries.items() for m in spec["metrics"]
             if next(iter(m.values()))["usage"] != "LABEL"}
    rules = prometheus.alert_rules(stack(backup=BACKUP))
    for series in ("pg_stat_activity_count", "pg_settings_max_connections",
                   "pg_replication_lag_seconds", "pg_replication_receiver_up",
                   "pg_stat_statements_calls_total", "pg_stat_statements_seconds_total"):
        assert series in names and series in rules, series
    alerts = [r["alert"] for g in yaml.safe_load(rules)["groups"] for r in g["rules"]]
    assert "PostgresStandbyNotStreaming" in alerts and "PostgresWALArchivingFailing" in alerts
    assert "PostgresReplicaNotStreaming" not in alerts  # the statefulset engine's slots
    assert "PostgresWALArchivingFailing" not in prometheus.alert_rules(stack())


def test_network_policies_for_the_operator_peers_api_server_and_store():
    pols = {d["metadata"]["name"]: d["spec"] for d in by_kind(stack(backup=BACKUP),
                                                               "NetworkPolicy")}
    ingress = pols["ingress-postgres"]["ingress"]
    operator = [r for r in ingress if r.get("from") == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "cnpg-system"}}}]]
    assert operator and operator[0]["ports"] == [{"protocol": "TCP", "port": 5432},
                                                 {"protocol": "TCP", "port": 8000}]
    egress = pols["egress-postgres"]["egress"]
    assert {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]} \
        in egress
    assert pols["egress-postgres-external"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.9/32"}}], "ports": [{"protocol": "TCP",
                                                                  "port": 9000}]}]


def test_prerequisites_and_the_pinned_operator():
    assert cnpg_operator.prerequisites(stack())[0].startswith(
        "the CloudNativePG operator 1.30.1 (namespace cnpg-system)")
    assert cnpg_operator.prerequisites(Stack.for_phase("phase1")) == []
    deployments = [d for d in cnpg_operator.manifests() if d["kind"] == "Deployment"]
    assert [c["image"] for d in deployments for c in d["spec"]["template"]["spec"][
        "containers"]] == ["ghcr.io/cloudnative-pg/cloudnative-pg:1.30.1"]


def test_the_presets_copy_the_old_primary_which_stays_beside_the_cluster():
    """phase2 and phase3 (CloudNativePG) from a phase1 stack: the Cluster's database is
    created as a pg_dump copy of the StatefulSet primary, rendered as phase1 had it, whose
    Service picks its own pod (the Cluster's pods carry the same name label)."""
    s = Stack.for_phase("phase2", namespace="pay")
    phase1 = {(d["kind"], d["metadata"]["name"]): d for d in synthesize(
        Stack.for_phase("phase1", namespace="pay"), VALUES)}
    docs = {(d["kind"], d["metadata"]["name"]): d for d in synthesize(s, VALUES)}
    assert docs[("StatefulSet", "postgres")] == phase1[("StatefulSet", "postgres")]
    assert docs[("Service", "postgres")]["spec"]["selector"] == {
        "app.kubernetes.io/name": "postgres", "statefulset.kubernetes.io/pod-name": "postgres-0"}
    assert ("StatefulSet", "postgres-replica") not in docs
    spec = docs[("Cluster", "postgres")]["spec"]
    assert spec["bootstrap"]["initdb"]["import"] == {
        "type": "microservice", "databases": ["app"],
        "source": {"externalCluster": "statefulset"}}
    assert spec["externalClusters"] == [{"name": "statefulset", "connectionParameters": {
        "host": "postgres.pay.svc.cluster.local", "port": "5432", "user": "app",
        "dbname": "app", "sslmode": "disable"},
        "password": {"name": "postgres-credentials", "key": "app-password"}}]
    assert docs[("Cluster", "postgres")]["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "condition=Ready"}
    # a restore is the source instead (its archive is the newer data)
    r = Stack.for_phase("phase2", namespace="pay", postgres={
        "backup": {**BACKUP, "server_name": "pg-2"},
        "cloudnativepg": {"recover_from": {"server_name": "pg"}}})
    rdocs = {(d["kind"], d["metadata"]["name"]): d for d in synthesize(r, VALUES)}
    assert ("StatefulSet", "postgres") not in rdocs
    assert "recovery" in rdocs[("Cluster", "postgres")]["spec"]["bootstrap"]

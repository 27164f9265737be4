"""monitoring.node_metrics: Prometheus scrapes the kubelets (cAdvisor and volume stats) with a
ClusterRole that can only list nodes and read their metrics, keeping its own namespace's
series (issue 15 item 2: CPU throttling and PVC fill)."""

from __future__ import annotations

import yaml

from phasestack.model import Stack
from phasestack.synth import kubelet, prometheus, synthesize
from phasestack.transitions.diff import PLACEHOLDER_VALUES


def by_kind(stack: Stack) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in synthesize(stack, PLACEHOLDER_VALUES)}


def test_on_from_phase2_off_before(refusal):
    assert not Stack.for_phase("phase1").monitoring.node_metrics
    assert Stack.for_phase("phase2").monitoring.node_metrics
    assert Stack.for_phase("phase3").monitoring.node_metrics
    assert refusal(lambda: Stack(monitoring={"prometheus": False, "alerts": False,
                                             "node_metrics": True})) == (
        "node_metrics needs prometheus: true")


def test_cluster_role_reads_only_nodes_and_their_metrics():
    docs = by_kind(Stack.for_phase("phase2", namespace="shop"))
    role = docs[("ClusterRole", "prometheus-kubelet-shop")]
    assert "namespace" not in role["metadata"]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]
    binding = docs[("ClusterRoleBinding", "prometheus-kubelet-shop")]
    assert binding["roleRef"]["name"] == "prometheus-kubelet-shop"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus",
                                    "namespace": "shop"}]
    pod = docs[("Deployment", "prometheus")]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    phase1 = by_kind(Stack.for_phase("phase1", namespace="shop"))
    assert not [k for k in phase1 if k[0].startswith("Cluster")]
    assert phase1[("Deployment", "prometheus")]["spec"]["template"]["spec"][
        "automountServiceAccountToken"] is False


def test_scrape_jobs_keep_the_namespaces_series_only():
    config = yaml.safe_load(prometheus.prometheus_yml(Stack.for_phase("phase2", namespace="shop")))
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    cadvisor = jobs["kubelet-cadvisor"]
    assert (cadvisor["scheme"], cadvisor["metrics_path"]) == ("https", "/metrics/cadvisor")
    assert cadvisor["kubernetes_sd_configs"] == [{"role": "node"}]
    assert cadvisor["authorization"] == {
        "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}
    assert cadvisor["metric_relabel_configs"] == [
        {"source_labels": ["namespace"], "regex": "shop", "action": "keep"},
        {"source_labels": ["__name__"], "regex": "container_cpu_cfs_(throttled_)?periods_total",
         "action": "keep"}]
    assert jobs["kubelet"]["metrics_path"] == "/metrics"
    assert jobs["kubelet"]["metric_relabel_configs"][1]["regex"] == \
        "kubelet_volume_stats_(used|capacity)_bytes"
    assert "kubelet" not in prometheus.prometheus_yml(Stack.for_phase("phase1"))


def test_alerts_and_their_egress():
    s = Stack.for_phase("phase2", namespace="shop")
    rules = {r["alert"]: r for g in yaml.safe_load(prometheus.alert_rules(s))["groups"]
             for r in g["rules"]}
    assert {"ContainerCpuThrottled", "PersistentVolumeUsageWarning",
            "PersistentVolumeUsageCritical"} <= set(rules)
    assert "> 0.9" in rules["PersistentVolumeUsageCritical"]["expr"]
    assert "> 0.25" in rules["ContainerCpuThrottled"]["expr"]
    assert "kubelet-cadvisor" in rules["ScrapeTargetDown"]["expr"]
    policy = by_kind(s)[("NetworkPolicy", "egress-prometheus")]
    open_ports = {p["port"] for rule in policy["spec"]["egress"] if "to" not in rule
                  for p in rule["ports"]}
    assert {kubelet.KUBELET_PORT, 443, 6443} <= open_ports

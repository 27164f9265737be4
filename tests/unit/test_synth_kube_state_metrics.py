"""kube-state-metrics: deployed exactly where an HPA (and so HpaAtMaxReplicas) exists, namespaced
RBAC, secure pod, scraped like every other job, strict schemas."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from phasestack.model import Stack
from phasestack.stackfile import list_stack_files, load
from phasestack.synth import components, kube_state_metrics, monitoring, synthesize
from phasestack.synth.common import Flow
from phasestack.synth.secrets import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
STACKS = [p.name[len("Pulumi."):-len(".yaml")] for p in list_stack_files(ROOT)]
KSM = "kube-state-metrics"


def stack(name: str) -> Stack:
    return load(name, ROOT).stack


def ksm_docs(s: Stack) -> dict[str, dict]:
    """kind -> manifest, from the monitoring component (the one that owns them)."""
    return {d["kind"]: d for d in monitoring.manifests(s) if d["metadata"]["name"] == KSM}


def has_hpa(s: Stack) -> bool:
    return s.api.hpa.enabled or s.nginx.hpa.enabled


@pytest.mark.parametrize("name", STACKS)
def test_present_exactly_with_prometheus_and_an_hpa(name):
    s = stack(name)
    expected = {"ServiceAccount", "Role", "RoleBinding", "Deployment"} \
        if s.monitoring.prometheus and has_hpa(s) else set()
    assert set(ksm_docs(s)) == expected
    # the alert that reads its series exists exactly where it is deployed
    rules = monitoring.alert_rules(s) if s.monitoring.alerts else ""
    if s.monitoring.alerts:
        assert ("HpaAtMaxReplicas" in rules) == bool(expected)


def test_mvp_has_no_hpa_and_no_kube_state_metrics():
    mvp = stack("mvp")
    assert not has_hpa(mvp) and ksm_docs(mvp) == {} and kube_state_metrics.flows(mvp) == []
    assert KSM not in monitoring.prometheus_yml(mvp)
    p1 = stack("phase1")
    assert p1.api.hpa.enabled and set(ksm_docs(p1)) == {"ServiceAccount", "Role", "RoleBinding",
                                                         "Deployment"}


def test_not_without_prometheus():
    p3 = stack("phase3")
    off = p3.model_copy(update={"monitoring": p3.monitoring.model_copy(
        update={"prometheus": False})})
    assert kube_state_metrics.manifests(off) == [] and kube_state_metrics.flows(off) == []


def test_role_rules_exact_and_namespaced():
    docs = ksm_docs(stack("phase2"))
    assert docs["Role"]["metadata"]["namespace"] == "ps-phase2"
    assert docs["Role"]["rules"] == [
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
         "verbs": ["get", "list", "watch"]},
        # restarts and termination reasons (ContainerRestarting, ContainerOOMKilled)
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert docs["RoleBinding"]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "Role", "name": KSM}
    assert docs["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": KSM,
                                                "namespace": "ps-phase2"}]
    # no cluster-wide access anywhere in the render, but the kubelets' (node_metrics,
    # tests/unit/test_synth_kubelet.py)
    full = synthesize(stack("phase3"), {c: "x" for c in CREDENTIALS})
    assert [d["metadata"]["name"] for d in full
            if d["kind"] in ("ClusterRole", "ClusterRoleBinding")] == [
        "prometheus-kubelet-ps-phase3"] * 2


def test_deployment_args_probes_and_security():
    docs = ksm_docs(stack("phase3"))
    spec = docs["Deployment"]["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["image"] == "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0"
    assert c["args"] == ["--namespaces=ps-phase3",
                         "--resources=horizontalpodautoscalers,deployments,statefulsets,pods",
                         "--port=8080", "--telemetry-port=8081"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http-metrics": 8080,
                                                                  "telemetry": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http-metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "telemetry"}
    assert spec["securityContext"]["runAsUser"] == 65534
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"requests", "limits"} <= c["resources"].keys()
    # the one pod that mounts a token: its ServiceAccount is the RoleBinding's subject
    assert spec["serviceAccountName"] == KSM
    assert spec["automountServiceAccountToken"] is True
    assert docs["ServiceAccount"]["automountServiceAccountToken"] is True


def test_scraped_through_its_headless_service():
    s = stack("phase1")
    jobs = {j["job_name"]: j for j in yaml.safe_load(monitoring.prometheus_yml(s))[
        "scrape_configs"]}
    assert jobs[KSM]["dns_sd_configs"] == [{
        "names": ["scrape-kube-state-metrics.ps-phase1.svc.cluster.local"], "type": "A",
        "port": 8080, "refresh_interval": "30s"}]
    (svc,) = [d for d in monitoring.manifests(s)
              if d["kind"] == "Service" and d["metadata"]["name"] == f"scrape-{KSM}"]
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": KSM}
    assert svc["spec"]["ports"][0]["port"] == 8080


def test_flows_scrape_and_api_server():
    flows = set(monitoring.flows(stack("phase2")))
    assert Flow("prometheus", KSM, 8080) in flows
    assert {f for f in flows if f.src == KSM} == {Flow(KSM, "*", 443), Flow(KSM, "*", 6443)}
    # only Prometheus reaches it
    assert {f.src for m in components().values() for f in m.flows(stack("phase2"))
            if f.dst == KSM} == {"prometheus"}


def test_network_policies_let_it_reach_the_api_server():
    docs = synthesize(stack("phase2"), {c: "x" for c in CREDENTIALS})
    (egress,) = [d for d in docs if d["kind"] == "NetworkPolicy"
                 and d["metadata"]["name"] == f"egress-{KSM}"]
    assert egress["spec"]["egress"] == [{"ports": [{"protocol": "TCP", "port": 443},
                                                   {"protocol": "TCP", "port": 6443}]}]
    (ingress,) = [d for d in docs if d["kind"] == "NetworkPolicy"
                  and d["metadata"]["name"] == f"ingress-{KSM}"]
    assert ingress["spec"]["ingress"] == [{
        "ports": [{"protocol": "TCP", "port": 8080}],
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]}]


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_kubernetes_validate_strict(name, version):
    for doc in kube_state_metrics.manifests(stack(name)):
        kubernetes_validate.validate(doc, version, strict=True)

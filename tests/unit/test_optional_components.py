"""Redis off and nginx off are valid stacks (issue 14 item 7): every consumer of the catalog
(synthesis, Secrets, the app's variables and policies, monitoring, the planner, the runbook)
leaves them out together."""

from __future__ import annotations

import yaml

from phasestack.model import Stack
from phasestack.plan.capacity import plan
from phasestack.stackfile import load
from phasestack.synth import api, component_of, grafana, network, prometheus, secrets, synthesize
from phasestack.synth import kube_state_metrics as ksm
from phasestack.transitions import runbook
from phasestack.transitions.diff import PLACEHOLDER_VALUES
from tests.unit.test_manifests import ROOT

BARE = {"redis": {"enabled": False}, "nginx": {"enabled": False}}


def bare(phase: str = "mvp", **values) -> Stack:
    return Stack.for_phase(phase, namespace="t", **{**BARE, **values})


def test_the_starter_stack_has_neither():
    stack = load("starter", ROOT).stack
    assert not stack.has("redis") and not stack.has("nginx")
    assert stack.has("api") and stack.has("postgres")


def test_nothing_of_redis_or_nginx_is_rendered_or_injected():
    stack = bare("phase2")
    docs = synthesize(stack, PLACEHOLDER_VALUES)
    assert {component_of(d) for d in docs} & {"redis", "nginx"} == set()
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == [
        # postgres-app: phase2's CloudNativePG Cluster, the app role's basic-auth Secret
        "grafana-credentials", "pgbouncer-userlist", "postgres-app", "postgres-credentials"]
    assert "redisPassword" not in secrets.needed(stack)
    names = {e["name"] for e in api.env(stack)}
    assert not {n for n in names if n.startswith("REDIS")}, names


def test_without_nginx_any_client_reaches_the_api_and_nothing_reaches_redis():
    flows = api.flows(bare())
    assert ("*", "api", 9898) in {(f.src, f.dst, f.port) for f in flows}
    assert "redis" not in {f.dst for f in flows}
    policies = {p["metadata"]["name"]: p for p in network.policies(bare(), flows)}
    assert policies["ingress-api"]["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 9898}]}]


def test_monitoring_has_no_job_alert_or_dashboard_of_theirs():
    stack = bare("phase3")
    assert {j.name for j in prometheus.jobs(stack)} & {"redis", "nginx"} == set()
    groups = {g["name"] for g in yaml.safe_load(prometheus.alert_rules(stack))["groups"]}
    assert groups & {"redis", "nginx"} == set() and "postgres" in groups
    assert set(grafana.dashboards(stack)) & {"redis.json", "nginx.json"} == set()
    # nginx's HPA (phase3's preset turns it on) is not watched when there is no nginx
    assert ksm.hpa_targets(stack) == ["api"]


def test_the_planner_checks_neither():
    report = plan(bare("phase1"))
    assert {c.component for c in report.checks} & {"redis", "nginx"} == set()
    assert "redis_ops_per_s" not in report.figures


def test_an_ingress_needs_nginx(refusal):
    assert refusal(lambda: Stack(nginx={"enabled": False, "trusted_proxies": ["10.0.0.0/8"],
                                        "ingress": {"enabled": True, "hosts": ["a.example"],
                                                    "tls_secret": "tls"}})) == (
        "ingress: routes to nginx, which enabled: false leaves out; turn nginx on, or "
        "point your own Ingress at the api Service")


def test_docker_runs_both(refusal):
    assert refusal(lambda: Stack(target="docker", redis={"enabled": False})) == (
        "target: docker renders the MVP shape; this stack also has: redis.enabled: false (use "
        "target: kubernetes)")


def test_runbook_adds_and_removes_them():
    full = Stack.for_phase("mvp", namespace="t")
    steps = {s.title: s for s in runbook.runbook(full, bare(), "a", "b").steps}
    removed = steps["Redis: standalone (2048 MiB) -> none"]
    assert removed.moves_data and any("sessions" in r for r in removed.risks)
    assert "nginx: 1 fixed -> none" in steps
    back = {s.title: s for s in runbook.runbook(bare(), full, "a", "b").steps}
    assert back["Redis: none -> standalone (2048 MiB)"].commands[0] == (
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=redis')
    assert any("point them at nginx" in r for r in back["nginx: none -> 1 fixed"].risks)

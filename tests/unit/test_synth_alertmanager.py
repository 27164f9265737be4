"""The Alertmanager of monitoring.alerting: its config routes by severity and names only files,
its pod mounts exactly the receivers' keys, Prometheus sends to it (or to an existing one), and
the NetworkPolicies open exactly those paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from phasestack.model import Stack
from phasestack.stackfile import load
from phasestack.synth import alertmanager, network, prometheus, synthesize
from phasestack.synth.common import container_security
from phasestack.transitions.diff import PLACEHOLDER_VALUES

ROOT = Path(__file__).resolve().parents[2]


def shop() -> Stack:
    return load("shop", ROOT).stack


def test_config_routes_each_severity_to_its_receivers_and_names_only_files():
    config = yaml.safe_load(alertmanager.alertmanager_yml(shop()))
    route = config["route"]
    assert (route["receiver"], route["group_by"], route["group_wait"], route["repeat_interval"]) \
        == ("unrouted", ["alertname", "namespace"], "30s", "4h")
    failing = 'alertname="AlertmanagerNotificationsFailing"'
    assert route["routes"] == [
        {"receiver": "oncall", "matchers": [failing], "continue": True},
        {"receiver": "team", "matchers": [failing], "continue": True},
        {"receiver": "oncall", "matchers": ['severity=~"critical"', "alertname!=" +
                                            failing.removeprefix("alertname=")],
         "continue": True},
        {"receiver": "team", "matchers": ['severity=~"critical|warning"', "alertname!=" +
                                          failing.removeprefix("alertname=")],
         "continue": True}]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["unrouted"] == {"name": "unrouted"}
    (pd,) = receivers["oncall"]["pagerduty_configs"]
    assert pd["routing_key_file"] == "/run/secrets/receiver-oncall/pagerduty-routing-key"
    assert pd["severity"] == "{{ .CommonLabels.severity }}"
    (slack,) = receivers["team"]["slack_configs"]
    assert (slack["api_url_file"], slack["channel"], slack["send_resolved"]) == (
        "/run/secrets/receiver-team/slack-webhook-url", "#shop-alerts", True)


def test_webhook_receiver_and_send_resolved_off():
    s = Stack.for_phase("phase1", monitoring={"alerting": {"alertmanager": True, "receivers": [
        {"name": "bot", "kind": "webhook", "secret": "hooks", "key": "url",
         "send_resolved": False}]}})
    (bot,) = [r for r in yaml.safe_load(alertmanager.alertmanager_yml(s))["receivers"]
              if r["name"] == "bot"]
    assert bot["webhook_configs"] == [{"url_file": "/run/secrets/receiver-bot/url",
                                       "send_resolved": False}]


def test_pod_mounts_each_receivers_key_and_runs_locked_down():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in alertmanager.manifests(shop())}
    assert sorted(docs) == [("ConfigMap", "alertmanager"), ("Deployment", "alertmanager"),
                            ("Service", "alertmanager")]
    pod = docs[("Deployment", "alertmanager")]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "prom/alertmanager:v0.35.0"
    assert c["args"] == ["--config.file=/etc/alertmanager/alertmanager.yml",
                         "--storage.path=/alertmanager", "--web.listen-address=:9093",
                         "--cluster.listen-address="]
    assert c["securityContext"] == container_security()
    assert pod["securityContext"]["runAsUser"] == 65534
    assert c["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert c["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"},
                              "limits": {"cpu": "250m", "memory": "128Mi"}}
    secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {
        "receiver-oncall": {"secretName": "shop-alerting", "defaultMode": 0o440,
                            "items": [{"key": "pagerduty-routing-key",
                                       "path": "pagerduty-routing-key"}]},
        "receiver-team": {"secretName": "shop-alerting", "defaultMode": 0o440,
                          "items": [{"key": "slack-webhook-url", "path": "slack-webhook-url"}]}}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["receiver-team"] == "/run/secrets/receiver-team"
    assert docs[("Service", "alertmanager")]["spec"]["ports"][0]["port"] == 9093
    assert alertmanager.manifests(load("phase2", ROOT).stack) == []


def test_prometheus_sends_to_it_and_scrapes_it():
    s = shop()
    config = yaml.safe_load(prometheus.prometheus_yml(s))
    assert config["alerting"] == {"alertmanagers": [{
        "scheme": "http",
        "static_configs": [{"targets": ["alertmanager.shop.svc.cluster.local:9093"]}]}]}
    assert "alertmanager" in [j["job_name"] for j in config["scrape_configs"]]
    assert "alerting" not in yaml.safe_load(prometheus.prometheus_yml(load("phase2",
                                                                           ROOT).stack))


def test_an_existing_alertmanager_gets_prometheus_egress_and_nothing_is_deployed():
    s = Stack.for_phase("phase1", monitoring={"alerting": {"external": {
        "urls": ["https://am.ops.example:9443/alertmanager/", "http://[fd00::9]"],
        "cidrs": ["10.40.0.0/24", "fd00::/64"]}}})
    assert yaml.safe_load(prometheus.prometheus_yml(s))["alerting"]["alertmanagers"] == [
        {"scheme": "https", "path_prefix": "/alertmanager",
         "static_configs": [{"targets": ["am.ops.example:9443"]}]},
        {"scheme": "http", "static_configs": [{"targets": ["[fd00::9]:80"]}]}]
    names = {d["metadata"]["name"] for d in synthesize(s, PLACEHOLDER_VALUES)}
    assert "alertmanager" not in names
    (policy,) = [p for p in network.external(s)
                 if p["metadata"]["name"] == "egress-prometheus-external"]
    assert policy["spec"]["podSelector"] == {"matchLabels": {
        "app.kubernetes.io/name": "prometheus"}}
    assert policy["spec"]["egress"] == [{
        "to": [{"ipBlock": {"cidr": "10.40.0.0/24"}}, {"ipBlock": {"cidr": "fd00::/64"}}],
        "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 9443}]}]


def test_only_prometheus_reaches_it_and_it_reaches_only_public_https():
    docs = {d["metadata"]["name"]: d for d in synthesize(shop(), PLACEHOLDER_VALUES)
            if d["kind"] == "NetworkPolicy"}
    assert docs["ingress-alertmanager"]["spec"]["ingress"] == [{
        "ports": [{"protocol": "TCP", "port": 9093}],
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]}]
    (out,) = docs["egress-alertmanager-external"]["spec"]["egress"]
    assert out["ports"] == [{"protocol": "TCP", "port": 443}]
    assert out["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert "10.0.0.0/8" in out["to"][0]["ipBlock"]["except"]

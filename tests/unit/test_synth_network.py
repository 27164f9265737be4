"""NetworkPolicies outside the stack (synth.network.external): api.egress of the shop stack."""

from pathlib import Path

from phasestack.model import Stack
from phasestack.model.egress import PRIVATE_V4
from phasestack.stackfile import load
from phasestack.synth import network

ROOT = Path(__file__).resolve().parents[2]


def test_no_egress_no_policy():
    assert network.external(Stack()) == []


def test_shop_opens_https_out_and_the_mail_relay_for_the_api_worker_and_migration():
    policies = {p["metadata"]["name"]: p for p in network.external(load("shop", ROOT).stack)}
    assert sorted(policies) == ["egress-alertmanager-external", "egress-api-external",
                                "egress-api-migrate-external",
                                "egress-pgbouncer-external", "egress-worker-emails-external"]
    api = policies["egress-api-external"]
    assert api["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "api"}}
    assert api["spec"]["policyTypes"] == ["Egress"]
    relay, internet, cache = api["spec"]["egress"]
    assert cache == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],  # the managed Redis
                     "ports": [{"protocol": "TCP", "port": 6379}]}
    assert relay == {"to": [{"ipBlock": {"cidr": "198.51.100.25/32"}}],
                     "ports": [{"protocol": "TCP", "port": 587}]}
    v4, v6 = internet["to"]
    assert v4 == {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4)}}
    assert v6["ipBlock"]["cidr"] == "::/0" and "fc00::/7" in v6["ipBlock"]["except"]
    assert internet["ports"] == [{"protocol": "TCP", "port": 443}]
    assert api["metadata"]["annotations"] == {
        "phasestack.io/egress": "198.51.100.25/32: SMTP relay for the emails worker"}


def test_a_named_instance_selects_its_own_pods():
    s = Stack(prefix="blue-", api={"egress": {"allow": [{"cidr": "203.0.113.0/24"}]}})
    (p,) = network.external(s)
    assert p["metadata"]["name"] == "blue-egress-api-external"
    assert p["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "blue-api"}


def test_a_managed_postgresql_is_opened_to_who_connects_to_it():
    managed = {"external": {"host": "db.example.internal", "password_secret": "shop-db",
                            "port": 6543, "cidrs": ["10.20.0.0/16"]}}
    rule = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": 6543}]}
    direct = Stack.for_phase("mvp", namespace="t", postgres=managed,
                             api={"workers": [{"name": "mail"}]})
    assert {p["metadata"]["name"]: p["spec"]["egress"] for p in network.external(direct)} == {
        "egress-api-external": [rule], "egress-worker-mail-external": [rule]}
    pooled = Stack.for_phase("phase1", namespace="t", postgres=managed)
    assert {p["metadata"]["name"]: p["spec"]["egress"] for p in network.external(pooled)} == {
        "egress-pgbouncer-external": [rule]}
    assert network.external(Stack.for_phase("phase1")) == []


def test_a_managed_redis_is_opened_to_every_pod_given_its_url():
    cache = {"host": "c.example.cache", "password_secret": "cache", "cidrs": ["10.30.0.0/16"]}
    stack = Stack.for_phase("phase1", namespace="t", redis={"external": cache},
                            api={"migration": {"enabled": True, "command": ["migrate"]}})
    rule = {"to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": 6379}]}
    assert {p["metadata"]["name"]: p["spec"]["egress"] for p in network.external(stack)} == {
        "egress-api-external": [rule], "egress-api-migrate-external": [rule]}

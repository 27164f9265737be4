"""monitoring.alerting (issue 15 item 2): receivers from the team's Secrets, routed by
severity, or an existing Alertmanager; and what a stack may not combine with it."""

from __future__ import annotations

from pydantic import ValidationError

from phasestack.model import Stack
from phasestack.model.alerting import Alerting, ExternalAlertmanager, Receiver
from phasestack.plan.notes import notes
from phasestack.problems import describe

PAGER = {"name": "oncall", "kind": "pagerduty", "secret": "alerting", "key": "routing-key",
         "severities": ["critical"]}
SLACK = {"name": "team", "kind": "slack", "secret": "alerting", "key": "slack-url"}


def test_defaults_send_nowhere_and_open_https_when_on():
    a = Alerting()
    assert (a.alertmanager, a.receivers, a.external, a.enabled) == (False, [], None, False)
    assert (a.image, a.group_wait, a.group_interval, a.repeat_interval) == (
        "prom/alertmanager:v0.35.0", "30s", "5m", "4h")
    assert (a.egress.internet, a.egress.internet_ports, a.egress.allow) == (True, [443], [])
    r = Receiver(**SLACK)
    assert (r.severities, r.channel, r.send_resolved) == (["critical", "warning"], None, True)


def test_refusals(refusal):
    assert refusal(lambda: Alerting(alertmanager=True)) == (
        "receivers: an Alertmanager needs at least one, or it notifies no one")
    assert refusal(lambda: Alerting(receivers=[SLACK])) == (
        "receivers need alertmanager: true (an existing Alertmanager routes with its own)")
    assert refusal(lambda: Alerting(alertmanager=True, receivers=[SLACK],
                                    external={"urls": ["http://am:9093"],
                                              "cidrs": ["10.0.0.0/8"]})) == (
        "alertmanager and external: choose one (an Alertmanager here, or the existing one at "
        "external.urls)")
    assert refusal(lambda: Alerting(alertmanager=True, receivers=[SLACK, SLACK])) == (
        "receivers: team named twice")
    assert refusal(lambda: Alerting(alertmanager=True, receivers=[
        {**SLACK, "severities": ["warning"]}])) == (
        "receivers: none takes severity critical, so a critical alert would notify no one")
    assert refusal(lambda: Receiver(**{**PAGER, "channel": "#ops"})) == (
        "channel: only a slack receiver has one (oncall is pagerduty)")
    assert refusal(lambda: ExternalAlertmanager(urls=["am:9093"], cidrs=["10.0.0.0/8"])) == (
        "'am:9093' is not an http(s)://host[:port][/path] URL")
    assert refusal(lambda: ExternalAlertmanager(urls=["http://am"], cidrs=["0.0.0.0/0"])) == (
        "'0.0.0.0/0' is every address: name the Alertmanagers' networks")
    assert refusal(lambda: Stack(monitoring={"alerts": False, "alerting": {
        "alertmanager": True, "receivers": [PAGER]}})) == (
        "alerting needs alerts: true (without rules nothing fires)")


def test_docker_target_refuses_it_and_bad_fields_name_their_key():
    try:
        Stack.for_phase("mvp", target="docker", monitoring={"alerting": {
            "alertmanager": True, "receivers": [PAGER]}})
    except ValidationError as err:
        (said,) = describe("stacks/Pulumi.x.yaml", err)
    assert said.endswith("this stack also has: monitoring.alerting (its receivers' "
                         "credentials are Kubernetes Secrets) (use target: kubernetes)")
    try:
        Stack.for_phase("mvp", monitoring={"alerting": {"alertmanager": True, "receivers": [
            {**PAGER, "kind": "email", "secret": "Alerting"}]}})
    except ValidationError as err:
        said = describe("stacks/Pulumi.x.yaml", err)
    assert [s.split(": must")[0].split(": Input")[0] for s in said] == [
        "stacks/Pulumi.x.yaml: phasestack:monitoring.alerting.receivers.0.kind",
        "stacks/Pulumi.x.yaml: phasestack:monitoring.alerting.receivers.0.secret"]


def test_validate_says_who_is_told_and_which_secrets_must_exist():
    quiet = [n for n in notes(Stack.for_phase("mvp")) if n.startswith("monitoring")]
    assert quiet == ["monitoring.alerting: none, so alerts fire in Prometheus and notify no "
                     "one; set alerting.alertmanager: true with receivers, or "
                     "alerting.external"]
    told = Stack.for_phase("mvp", monitoring={"alerting": {"alertmanager": True,
                                                           "receivers": [PAGER, SLACK]}})
    assert [n for n in notes(told) if n.startswith("monitoring")] == [
        "monitoring.alerting: the namespace must hold, before Alertmanager starts: Secret "
        "alerting with routing-key (pagerduty oncall); Secret alerting with slack-url (slack "
        "team)"]
    # no rules, nothing to say
    assert not [n for n in notes(Stack.for_phase("mvp", monitoring={"alerts": False}))
                if n.startswith("monitoring")]

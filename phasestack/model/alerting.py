"""Where a firing alert goes (issue 15 item 2): an Alertmanager in the namespace that routes by
severity to the team's receivers, or an existing Alertmanager that Prometheus sends to.

A receiver's credential (a webhook URL, a Slack incoming-webhook URL, a PagerDuty routing key)
stays in a Secret the team manages: Alertmanager reads it from a mounted file (`url_file`,
`api_url_file`, `routing_key_file`), so no render, state file or ConfigMap ever holds it."""


from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from phasestack.model.base import DATA_KEY, IMAGE, OBJECT_NAME, Spec
from phasestack.model.egress import Egress, network

SEVERITIES = ("critical", "warning")
DURATION = r"^[0-9]+[smh]$"
# a receiver's name is also its Secret volume's (receiver-<name>, a DNS label)
RECEIVER_NAME = r"^[a-z][a-z0-9-]{0,39}$"


class Receiver(Spec):
    name: str = Field(pattern=RECEIVER_NAME,
                      description="Receiver name, as Alertmanager and its notifications show it.")
    kind: Literal["webhook", "slack", "pagerduty"] = Field(
        description="webhook (any HTTP endpoint, e.g. Opsgenie or an incident bot), slack (an "
                    "incoming webhook) or pagerduty (Events API v2).")
    secret: str = Field(pattern=OBJECT_NAME,
                        description="An existing Secret in the namespace holding the "
                                    "credential: the webhook URL, the Slack webhook URL or the "
                                    "PagerDuty routing key. Mounted as a file, never rendered.")
    key: str = Field(pattern=DATA_KEY, description="The Secret's key that holds it.")
    severities: list[Literal["critical", "warning"]] = Field(
        default_factory=lambda: list(SEVERITIES), min_length=1,
        description="The alert severities this receiver is sent.")
    channel: str | None = Field(None, pattern=r"^[#@]?[A-Za-z0-9._-]{1,80}$",
                                description="Slack channel; unset: the webhook's own.")
    send_resolved: bool = Field(True, description="Also notify when the alert resolves.")

    @model_validator(mode="after")
    def _channel(self) -> "Receiver":
        if self.channel is not None and self.kind != "slack":
            raise ValueError(f"channel: only a slack receiver has one ({self.name} is "
                             f"{self.kind})")
        return self


class ExternalAlertmanager(Spec):
    urls: list[str] = Field(min_length=1, max_length=10,
                            description="The Alertmanagers Prometheus sends to, e.g. "
                                        "http://10.0.4.9:9093 (all of one HA group).")
    cidrs: list[str] = Field(min_length=1, max_length=20,
                             description="Their networks, opened for Prometheus' egress.")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
                    or parts.fragment or parts.username):
                raise ValueError(f"{url!r} is not an http(s)://host[:port][/path] URL")
        return value

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [network(c, "is every address: name the Alertmanagers' networks") for c in value]


def _internet() -> "Egress":
    return Egress(internet=True)


class Alerting(Spec):
    alertmanager: bool = Field(False, description="Deploy an Alertmanager in the namespace "
                                                  "that sends to `receivers`.")
    receivers: list[Receiver] = Field(default_factory=list, max_length=20,
                                      description="Who is notified of which severity.")
    external: ExternalAlertmanager | None = Field(
        None, description="An existing Alertmanager to send to instead (its own receivers).")
    image: str = Field("prom/alertmanager:v0.35.0", pattern=IMAGE,
                       description="Alertmanager image (the version the tests start).")
    egress: Egress = Field(
        default_factory=_internet,
        description="Where Alertmanager may connect: Slack and PagerDuty are public HTTPS "
                    "(internet: true, 443); a webhook in a private network needs allow.")
    group_wait: str = Field("30s", pattern=DURATION,
                            description="How long a new group waits for more alerts.")
    group_interval: str = Field("5m", pattern=DURATION,
                                description="Wait before notifying of alerts added to a group.")
    repeat_interval: str = Field("4h", pattern=DURATION,
                                 description="Repeat a still-firing group this often.")

    @model_validator(mode="after")
    def _routes(self) -> "Alerting":
        if self.alertmanager and self.external:
            raise ValueError("alertmanager and external: choose one (an Alertmanager here, "
                             "or the existing one at external.urls)")
        if self.receivers and not self.alertmanager:
            raise ValueError("receivers need alertmanager: true (an existing Alertmanager "
                             "routes with its own)")
        if self.alertmanager and not self.receivers:
            raise ValueError("receivers: an Alertmanager needs at least one, or it notifies "
                             "no one")
        names = [r.name for r in self.receivers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"receivers: {', '.join(twice)} named twice")
        if self.alertmanager and not any("critical" in r.severities for r in self.receivers):
            raise ValueError("receivers: none takes severity critical, so a critical alert "
                             "would notify no one")
        return self

    @property
    def enabled(self) -> bool:
        """Prometheus sends its alerts somewhere."""
        return self.alertmanager or self.external is not None

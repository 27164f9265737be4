"""What `phasestack validate` tells about a valid stack that may surprise at run time (pure)."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import alertmanager
from phasestack.synth.secrets import required


def notes(stack: Stack) -> list[str]:
    out = []
    if stack.credentials == "existing":
        out.append("credentials: existing, so the namespace must hold, before anything is "
                   "applied: " + "; ".join(f"Secret {name} with {', '.join(keys)}"
                                            for name, keys in required(stack).items()))
    if stack.target == "kubernetes" and not stack.api.egress.open:
        out.append("api.egress: none given, so the API and its workers reach only the "
                   "stack's own servers and DNS (the NetworkPolicies deny the rest); name "
                   "external services in api.egress.allow, or set api.egress.internet: true")
    mon = stack.monitoring
    if mon.alerts and not mon.alerting.enabled:
        out.append("monitoring.alerting: none, so alerts fire in Prometheus and notify no one; "
                   "set alerting.alertmanager: true with receivers, or alerting.external")
    if alertmanager.enabled(stack):
        out.append("monitoring.alerting: the namespace must hold, before Alertmanager starts: "
                   + "; ".join(f"Secret {r.secret} with {r.key} ({r.kind} {r.name})"
                               for r in mon.alerting.receivers))
    return out

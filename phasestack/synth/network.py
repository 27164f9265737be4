"""Namespace and NetworkPolicies: deny everything, then allow exactly the topology's flows."""

from __future__ import annotations

from collections import defaultdict

from phasestack.model import Stack
from phasestack.model.egress import PRIVATE_V4, PRIVATE_V6, Egress
from phasestack.synth import alertmanager
from phasestack.synth.common import (
    ALERTMANAGER,
    ANY,
    API,
    MIGRATE,
    NAMESPACE_PEER,
    PGBOUNCER,
    POSTGRES,
    PROMETHEUS,
    REDIS,
    REDIS_SNAPSHOT,
    Flow,
    labels,
    meta,
    selector,
    worker_name,
)

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def namespace(stack: Stack) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": stack.namespace, "labels": {
                **labels(stack.namespace, "namespace"),
                "pod-security.kubernetes.io/enforce": "restricted"}}}


def _policy(stack: Stack, name: str, pods: dict, types: list[str],
            annotations: dict | None = None, **rules) -> dict:
    md = meta(stack, name, "network", **({"annotations": annotations} if annotations else {}))
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": md,
            "spec": {"podSelector": {"matchLabels": pods} if pods else {},
                     "policyTypes": types, **rules}}


def _rules(stack: Stack, peers: dict[str, set[int]], side: str) -> list[dict]:
    """One rule per peer (pods by name, a whole namespace, or anyone for ANY); side is "from"
    or "to"."""
    rules = []
    for peer, ports in sorted(peers.items()):
        rule: dict = {"ports": [{"protocol": "TCP", "port": p} for p in sorted(ports)]}
        if peer.startswith(NAMESPACE_PEER):
            rule[side] = [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": peer.removeprefix(NAMESPACE_PEER)}}}]
        elif peer != ANY:
            rule[side] = [{"podSelector": {"matchLabels": selector(stack, peer)}}]
        rules.append(rule)
    return rules


def _egress_rules(e: Egress) -> list[dict]:
    rules = [{"to": [{"ipBlock": {"cidr": r.cidr}}],
              "ports": [{"protocol": "TCP", "port": p} for p in r.ports]} for r in e.allow]
    if e.internet:
        rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4)}},
                             {"ipBlock": {"cidr": "::/0", "except": list(PRIVATE_V6)}}],
                      "ports": [{"protocol": "TCP", "port": p} for p in e.internet_ports]})
    return rules


def _why(e: Egress) -> dict | None:
    """The policy's annotation: what each named network is."""
    why = "; ".join(f"{r.cidr}: {r.why}" for r in e.allow if r.why)
    return {"phasestack.io/egress": why} if why else None


def _app_pods(stack: Stack) -> list[str]:
    """The pods that run the team's app: the API, its workers and the migration."""
    return [API, *(worker_name(w) for w in stack.api.workers),
            *([MIGRATE] if stack.api.migration.enabled else [])]


def _database_pods(stack: Stack) -> list[str]:
    """Who connects to a managed PostgreSQL itself: PgBouncer (else the API and workers), and
    the migration."""
    if not stack.postgres.external:
        return []
    if not stack.pgbouncer.enabled:
        return _app_pods(stack)
    return [PGBOUNCER, *([MIGRATE] if stack.api.migration.enabled else [])]


def _cache_pods(stack: Stack) -> list[str]:
    """Who connects to a managed Redis: every pod given REDIS_*."""
    return _app_pods(stack) if stack.has("redis") and stack.redis.external else []


def _alerting(stack: Stack) -> dict[str, tuple[list[dict], dict | None]]:
    """Alertmanager's receivers (alerting.egress), or Prometheus to an existing Alertmanager."""
    a = stack.monitoring.alerting
    if alertmanager.enabled(stack):
        return {ALERTMANAGER: (_egress_rules(a.egress), _why(a.egress))}
    if a.external and stack.monitoring.prometheus:
        ports = sorted({int(t["target"].rsplit(":", 1)[1]) for t in alertmanager.targets(stack)})
        return {PROMETHEUS: ([{"to": [{"ipBlock": {"cidr": c}} for c in a.external.cidrs],
                               "ports": [{"protocol": "TCP", "port": p} for p in ports]}], None)}
    return {}


def external(stack: Stack) -> list[dict]:
    """Egress outside the stack, one policy per pod name (NetworkPolicies add up, so these open
    only what they name): the API's, workers' and migration's api.egress, the managed
    PostgreSQL's and Redis's endpoints for the pods that connect to them, alerting's, and the
    PostgreSQL instances' and the Redis snapshot Job's to their backup store."""
    app = _egress_rules(stack.api.egress)
    rules: dict[str, list[dict]] = {}
    notes: dict[str, dict | None] = {}
    if app:
        for pod in _app_pods(stack):
            rules[pod], notes[pod] = list(app), _why(stack.api.egress)
    for pods, ext in ((_database_pods(stack), stack.postgres.external),
                      (_cache_pods(stack), stack.redis.external)):
        for pod in pods:
            rules.setdefault(pod, []).append({
                "to": [{"ipBlock": {"cidr": cidr}} for cidr in ext.cidrs],
                "ports": [{"protocol": "TCP", "port": ext.port}]})
    for pod, (pod_rules, why) in _alerting(stack).items():
        rules[pod], notes[pod] = pod_rules, why
    stores = {POSTGRES: stack.postgres.backup if stack.runs(POSTGRES) else None,
              REDIS_SNAPSHOT: stack.redis.backup if stack.runs(REDIS) else None}
    for pod, backup in stores.items():  # Barman Cloud from the instances; the snapshot Job
        if backup:
            rules[pod], notes[pod] = _egress_rules(backup.store.egress), \
                _why(backup.store.egress)
    return [_policy(stack, f"egress-{pod}-external", selector(stack, pod), ["Egress"],
                    notes.get(pod), egress=rules[pod]) for pod in rules]


# cert-manager's HTTP-01 solver: a pod it starts in the Ingress's namespace, labelled so, that
# the ingress controller sends /.well-known/acme-challenge/ to on its --listen-port
ACME_SOLVER = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089


def _acme_solver(stack: Stack) -> list[dict]:
    """Without it the default deny blocks the challenge and the certificate never issues
    (a DNS-01 issuer starts no solver pod: the rule then selects nothing)."""
    i = stack.nginx.ingress
    if not (stack.has("nginx") and i.enabled and i.cert_manager_issuer):
        return []
    return [_policy(stack, "ingress-acme-http01-solver", ACME_SOLVER, ["Ingress"], ingress=[{
        "from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": i.controller_namespace}}}],
        "ports": [{"protocol": "TCP", "port": ACME_SOLVER_PORT}]}])]


def policies(stack: Stack, flows: list[Flow]) -> list[dict]:
    out = [
        _policy(stack, "default-deny", {}, ["Ingress", "Egress"]),
        _policy(stack, "allow-dns", {}, ["Egress"], egress=[{
            "to": [{"namespaceSelector": {}, "podSelector": {
                "matchLabels": {"k8s-app": "kube-dns"}}}], "ports": DNS_PORTS}]),
    ]
    inbound: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    outbound: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for f in flows:
        if f.dst != ANY:
            inbound[f.dst][f.src].add(f.port)
        if f.src != ANY and not f.src.startswith(NAMESPACE_PEER):
            outbound[f.src][f.dst].add(f.port)
    out += [_policy(stack, f"ingress-{dst}", selector(stack, dst), ["Ingress"],
                    ingress=_rules(stack, inbound[dst], "from")) for dst in sorted(inbound)]
    out += [_policy(stack, f"egress-{src}", selector(stack, src), ["Egress"],
                    egress=_rules(stack, outbound[src], "to")) for src in sorted(outbound)]
    return out + external(stack) + _acme_solver(stack)

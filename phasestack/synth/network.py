"""Namespace and NetworkPolicies: deny everything, then allow exactly the topology's flows."""

from __future__ import annotations

from collections import defaultdict

from phasestack.model import Stack
from phasestack.synth.common import ANY, Flow, labels, meta, selector

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def namespace(stack: Stack) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": stack.namespace, "labels": {
                **labels(stack.namespace, "namespace"),
                "pod-security.kubernetes.io/enforce": "restricted"}}}


def _policy(stack: Stack, name: str, pods: dict, types: list[str], **rules) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta(stack, name, "network"),
            "spec": {"podSelector": {"matchLabels": pods} if pods else {},
                     "policyTypes": types, **rules}}


def _rules(stack: Stack, peers: dict[str, set[int]], side: str) -> list[dict]:
    """One rule per peer (pods by name, or anyone for ANY); side is "from" or "to"."""
    rules = []
    for peer, ports in sorted(peers.items()):
        rule: dict = {"ports": [{"protocol": "TCP", "port": p} for p in sorted(ports)]}
        if peer != ANY:
            rule[side] = [{"podSelector": {"matchLabels": selector(stack, peer)}}]
        rules.append(rule)
    return rules


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
        if f.src != ANY:
            outbound[f.src][f.dst].add(f.port)
    out += [_policy(stack, f"ingress-{dst}", selector(stack, dst), ["Ingress"],
                    ingress=_rules(stack, inbound[dst], "from")) for dst in sorted(inbound)]
    out += [_policy(stack, f"egress-{src}", selector(stack, src), ["Egress"],
                    egress=_rules(stack, outbound[src], "to")) for src in sorted(outbound)]
    return out

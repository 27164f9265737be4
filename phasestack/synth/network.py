"""Namespace and NetworkPolicies: deny everything, then allow exactly the topology's flows."""

from __future__ import annotations

from collections import defaultdict

from phasestack.model import Stack
from phasestack.synth.common import Flow, labels, meta, selector

ANY = "*"
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


def _ports(ports: set[int]) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in sorted(ports)]


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
    for dst in sorted(inbound):
        rules = []
        for src, ports in sorted(inbound[dst].items()):
            rule = {"ports": _ports(ports)}
            if src != ANY:
                rule["from"] = [{"podSelector": {"matchLabels": selector(src)}}]
            rules.append(rule)
        out.append(_policy(stack, f"ingress-{dst}", selector(dst), ["Ingress"], ingress=rules))
    for src in sorted(outbound):
        rules = []
        for dst, ports in sorted(outbound[src].items()):
            rule = {"ports": _ports(ports)}
            if dst != ANY:
                rule["to"] = [{"podSelector": {"matchLabels": selector(dst)}}]
            rules.append(rule)
        out.append(_policy(stack, f"egress-{src}", selector(src), ["Egress"], egress=rules))
    return out

"""What a component used on its own shares (issue 13): its name prefix, the one-component Stack
its synthesizer reads, its Secrets and their generated passwords, and secret connection URLs.

Inside a Topology a component gets its share of the stack's one synthesis instead
(kube.KubeArgs), so the stack's NetworkPolicies and Secrets stay with Network and Credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from phasestack.catalog import CATALOG
from phasestack.components import kube
from phasestack.components.credentials import Credentials, CredentialsArgs, placeholders
from phasestack.model import Stack
from phasestack.synth import secrets
from phasestack.synth.wiring import CREDENTIALS, named


def prefix(name: str) -> str:
    """Object names of the instance `name` start with "<name>-" (Redis("sessions") ->
    sessions-redis)."""
    return f"{name}-"


@dataclass
class Share:
    """What a component registers: from a Topology (kube.KubeArgs) or made here."""

    stack: Stack
    docs: list[dict]
    provider: pulumi.ProviderResource | None
    depends_on: list[pulumi.Resource]
    credentials: dict[str, pulumi.Output[str]]
    aliases: list[pulumi.Alias]


def share(parent: pulumi.ComponentResource, name: str, args, key: str) -> Share:
    """A Topology's KubeArgs as they are; typed args (RedisArgs, ...) synthesized here, with a
    Credentials child for the catalog row's credentials. The provider is the one the caller
    gave the component (opts.provider), which its children inherit."""
    if isinstance(args, kube.KubeArgs):
        return Share(args.stack, args.docs, args.provider, args.depends_on, args.credentials,
                     args.aliases)
    stack = args.stack(prefix(name))
    row = next(c for c in CATALOG if c.key == key)
    # the API and nginx hold none of their own; Monitoring's Grafana only when deployed
    used = tuple(c for c in row.credentials if c in secrets.needed(stack))
    if not used:
        return Share(stack, row.module.manifests(stack), None, [], {}, [])
    mine = {named(stack, CREDENTIALS[c][0]) for c in used} | {
        secret for secret, c in secrets.derived(stack).items() if c in used}
    secret_docs = [d for d in secrets.manifests(stack, placeholders())
                   if d["metadata"]["name"] in mine]
    creds = Credentials(f"{name}-credentials", CredentialsArgs(stack, secret_docs, only=used),
                        pulumi.ResourceOptions(parent=parent))
    return Share(stack, row.module.manifests(stack), None, [creds], creds.values, [])


def url(scheme: str, user: str, password: pulumi.Input[str] | None, host: pulumi.Input[str],
        port: pulumi.Input[int], path: str) -> pulumi.Output[str] | None:
    """scheme://user:password@host:port/path, secret (None without the password).
    Passwords are URL-safe (synth.secrets.url_safe), so they go in unescaped."""
    if password is None:
        return None
    return pulumi.Output.secret(pulumi.Output.all(password, host, port).apply(
        lambda v: f"{scheme}://{user}:{v[0]}@{v[1]}:{int(v[2])}/{path}"))

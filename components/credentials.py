"""Credentials: one RandomPassword per credential unless `pulumi config set --secret` set it.

Values are Outputs marked secret from the moment they exist to the Secret resources'
stringData; nothing here ever sees a plain value outside an apply. The synthesizers are fed
placeholders (`placeholders()`), which `secret_inputs()` swaps back for the secret Outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from phasestack.components import kube
from phasestack.errors import CredentialError
from phasestack.model import Stack
from phasestack.synth import secrets
from phasestack.synth.common import PGB_SECRET, named

CONFIG_NAMESPACE = "phasestack"
PASSWORD_LENGTH = 32


def placeholder(credential: str) -> str:
    return f"phasestack-placeholder-{credential}"


def placeholders() -> dict[str, str]:
    """What the synthesizers get instead of values: a marker per credential."""
    return {c: placeholder(c) for c in secrets.CREDENTIALS}


@dataclass
class CredentialsArgs:
    stack: Stack
    # Secret manifests to register (Kubernetes target); empty for the docker target
    docs: list[dict] = field(default_factory=list)
    provider: pulumi.ProviderResource | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    # a component on its own: just its credentials (catalog row)
    only: tuple[str, ...] | None = None


class Credentials(pulumi.ComponentResource):
    values: dict[str, pulumi.Output[str]]
    secret_names: pulumi.Output[list[str]]
    userlist: pulumi.Output[str] | None

    def __init__(self, name: str, args: CredentialsArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:Credentials", name, None, opts)
        stack = args.stack
        self._userlist_secret = named(stack, PGB_SECRET)
        config = pulumi.Config(CONFIG_NAMESPACE)
        self.values = {}
        # credentials: existing: the team's Secrets, nothing to generate or register
        generated = secrets.needed(stack) if stack.credentials == "generated" else []
        for credential in generated if args.only is None else args.only:
            # a named instance's key carries its prefix: phasestack:sessions-redisPassword
            key = f"{stack.prefix}{credential}"
            override = config.get_secret(key)
            if override is not None:
                value = override.apply(lambda v, k=key: _url_safe(k, v))
            else:
                # the prefix keeps two instances' passwords apart (URNs omit the parent's name)
                password = random.RandomPassword(
                    f"{stack.prefix}{credential.lower()}", length=PASSWORD_LENGTH,
                    special=False, opts=pulumi.ResourceOptions(parent=self))
                value = password.result
            # secret whatever the engine or the config layer did to it
            self.values[credential] = pulumi.Output.secret(value)
        self.userlist = None
        if stack.pgbouncer.enabled and "appPassword" in self.values:
            self.userlist = pulumi.Output.secret(self.values["appPassword"].apply(
                lambda pw: secrets.userlist(stack, pw)))
        group = kube.Group(self, args.provider, args.depends_on)
        for doc in args.docs:
            group.add(doc, {"string_data": self.secret_inputs(doc)})
        self.secret_names = pulumi.Output.from_input(
            sorted(d["metadata"]["name"] for d in args.docs))
        self.register_outputs({"secret_names": self.secret_names})

    def secret_inputs(self, doc: dict) -> dict[str, pulumi.Output[str]]:
        """A Secret manifest's stringData with each placeholder replaced by its secret value."""
        out: dict[str, pulumi.Output[str]] = {}
        for key, text in doc.get("stringData", {}).items():
            if doc["metadata"]["name"] == self._userlist_secret and self.userlist is not None:
                out[key] = self.userlist
                continue
            used = [c for c in self.values if placeholder(c) in text]
            if not used and doc.get("type") == secrets.BASIC_AUTH and key == "username":
                out[key] = pulumi.Output.from_input(text)  # a role name, not a secret
                continue
            if not used:
                raise ValueError(f"{kube.logical_name(doc)}: stringData.{key} holds no "
                                 f"credential; refusing to register a plain value")
            out[key] = pulumi.Output.secret(pulumi.Output.all(*(self.values[c] for c in used))
                                            .apply(lambda vals, t=text, u=used: _fill(t, u, vals)))
        return out


def _fill(text: str, used: list[str], values: list[str]) -> str:
    for credential, value in zip(used, values, strict=True):
        text = text.replace(placeholder(credential), value)
    return text


def _url_safe(credential: str, value: str) -> str:
    """A configured credential goes into connection URLs unescaped, as with render's
    PHASESTACK_* variables; the message names the key, never the value."""
    if not secrets.url_safe(value):
        raise CredentialError(f"{CONFIG_NAMESPACE}:{credential}: {secrets.SUPPLIED_RULE}")
    return value

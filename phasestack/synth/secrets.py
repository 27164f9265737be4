"""Credential Secrets. Values come from the caller (render: environment or generated; Pulumi:
pulumi_random or `pulumi config set --secret`), never from here: no default password exists."""

from __future__ import annotations

import os
import re
import secrets as _random

from phasestack.catalog import CATALOG
from phasestack.errors import CredentialError
from phasestack.model import Stack
from phasestack.synth import cnpg
from phasestack.synth.common import (
    CNPG_APP_SECRET,
    CREDENTIALS,
    GRAFANA_SECRET,
    PGB_SECRET,
    meta,
    named,
)


def env_var(credential: str) -> str:
    """postgresPassword -> PHASESTACK_POSTGRES_PASSWORD"""
    snake = "".join(f"_{c}" if c.isupper() else c for c in credential).upper()
    return f"PHASESTACK_{snake}"


# Credentials go into connection URLs (DATABASE_URL, REDIS_URL) and the PgBouncer userlist
# unescaped, so a supplied one must be URL-safe; generated ones are (token_urlsafe).
SUPPLIED = re.compile(r"^[A-Za-z0-9._~-]{16,}$")
SUPPLIED_RULE = ("use at least 16 characters of letters, digits and . _ ~ - (credentials go "
                 "into connection URLs unescaped)")


def url_safe(value: object) -> bool:
    """Whether a credential from any source (environment, Pulumi config, an earlier render)
    may go into a URL or the PgBouncer userlist as it is."""
    return isinstance(value, str) and SUPPLIED.match(value) is not None


def from_environment(environ: dict[str, str] | None = None,
                     previous: dict[str, str] | None = None) -> dict[str, str]:
    """Each credential from PHASESTACK_<NAME>, else the previous render's value (so re-rendering
    never rotates a live password), else a fresh 32-byte random value. Raises ValueError naming
    the variables (never their values) that are not URL-safe or shorter than 16 characters."""
    env = os.environ if environ is None else environ
    bad = [env_var(c) for c in CREDENTIALS if env.get(env_var(c))
           and not url_safe(env[env_var(c)])]
    if bad:
        raise CredentialError(f"{', '.join(bad)}: {SUPPLIED_RULE}")
    prev = previous or {}
    return {c: env.get(env_var(c)) or prev.get(c) or _random.token_urlsafe(32)
            for c in CREDENTIALS}


def from_manifests(docs: list[dict]) -> dict[str, str]:
    """Credentials back out of rendered Secret manifests (the inverse of manifests())."""
    found = {(d["metadata"]["name"], k): v for d in docs if d.get("kind") == "Secret"
             for k, v in d.get("stringData", {}).items()}
    return {c: found[where] for c, where in CREDENTIALS.items() if where in found}


def userlist(stack: Stack, app_password: str) -> str:
    """PgBouncer auth_file line for the app role (plain password, only ever inside a Secret)."""
    return f'"{stack.postgres.app_user}" "{app_password}"\n'


BASIC_AUTH = "kubernetes.io/basic-auth"


def needed(stack: Stack) -> list[str]:
    """Credentials the stack uses: those of the components it runs (Grafana's only when
    Grafana is deployed)."""
    # (engine cloudnativepg uses only appPassword; the others stay, so that the StatefulSet a
    # move leaves as the way back still starts)
    absent = {cred for c in CATALOG if not stack.runs(c.key) for cred in c.credentials}
    return [c for c, (secret, _) in CREDENTIALS.items() if c not in absent
            and (secret != GRAFANA_SECRET or stack.monitoring.grafana)]


def derived(stack: Stack) -> dict[str, str]:
    """Secrets made from a credential besides its own (name -> credential): the Cluster's
    basic-auth Secret of the app role (engine: cloudnativepg)."""
    return {named(stack, CNPG_APP_SECRET): "appPassword"} if cnpg.enabled(stack) else {}


def required(stack: Stack) -> dict[str, list[str]]:
    """Secret name -> keys the stack's pods read (what the team provides with credentials:
    existing)."""
    out: dict[str, list[str]] = {}
    for credential in needed(stack):
        secret, key = CREDENTIALS[credential]
        out.setdefault(named(stack, secret), []).append(key)
    if cnpg.enabled(stack):  # type kubernetes.io/basic-auth, username the app role
        out[named(stack, CNPG_APP_SECRET)] = ["username", "password"]
    return out


def manifests(stack: Stack, values: dict[str, str]) -> list[dict]:
    """The stack's Secrets; none with credentials: existing (the team's)."""
    if stack.credentials == "existing":
        return []
    data: dict[str, dict[str, str]] = {}
    for credential in needed(stack):
        secret, key = CREDENTIALS[credential]
        data.setdefault(secret, {})[key] = values[credential]
    if stack.pgbouncer.enabled and stack.runs("postgres"):
        # (in front of a managed PostgreSQL the pods write it from the team's Secret)
        data[PGB_SECRET] = {"userlist.txt": userlist(stack, values["appPassword"])}
    docs = [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": meta(stack, name, "credentials"), "stringData": data[name]}
            for name in sorted(data)]
    if cnpg.enabled(stack):
        # the Cluster's initdb takes the app role's name and password from a basic-auth Secret
        docs.append({"apiVersion": "v1", "kind": "Secret", "type": BASIC_AUTH,
                     "metadata": meta(stack, CNPG_APP_SECRET, "credentials"),
                     "stringData": {"username": stack.postgres.app_user,
                                    "password": values["appPassword"]}})
    return docs

"""The Pulumi program as a function: `__main__.py` runs it under `pulumi up`, and the e2e tests
run the same function through the Automation API (tests/e2e).

Its config comes from Pulumi (stacks/Pulumi.<stack>.yaml through Pulumi.yaml's stackConfigDir,
plus `--config` flags and ESC environments) and is validated by the same rules as
`phasestack validate`: defaults <- phase preset <- config. Every `phasestack:` key is read, so a
misspelt or unknown key is refused by name instead of being silently ignored.
"""

from __future__ import annotations

import json

import pulumi
from pulumi.runtime import config as runtime_config

from phasestack import stackfile
from phasestack.components.topology import Topology, TopologyArgs
from phasestack.model import Stack

# what a secret key is handed to the loader as: it checks that the key was set as a secret,
# never sees the value (Credentials reads it as a secret Output)
REDACTED = {"secure": "<set with pulumi config set --secret>"}


# top-level keys holding a bool or a number (the others are strings or mappings)
SCALAR_KEYS = frozenset(name for name, f in Stack.model_fields.items()
                        if f.annotation in (bool, int, float))


def _scalar(raw: object) -> object:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw  # the model names the key and the expected type


def config_values() -> dict[str, object]:
    """Every `phasestack:<key>` of the stack's Pulumi config, structured keys decoded."""
    keys = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    source = f"stack {pulumi.get_stack()} (Pulumi config)"
    values: dict[str, object] = {}
    problems: list[str] = []
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if namespace != stackfile.NAMESPACE:
            continue  # other namespaces belong to providers, which check their own
        raw = runtime_config.get_config(full_key)
        if key in stackfile.SECRET_KEYS:
            values[full_key] = REDACTED if runtime_config.is_config_secret(full_key) else raw
        elif key in SCALAR_KEYS:
            # `pulumi config set phasestack:retain_data false` stores the text "false"; the
            # model is strict, so the text is decoded as the YAML stack file would have it
            values[full_key] = _scalar(raw)
        elif key in stackfile.STRUCTURED_KEYS:
            try:
                values[full_key] = json.loads(raw)
            except (TypeError, ValueError):
                problems.append(f"{source}: {full_key}: expected a mapping (JSON object)")
        else:
            values[full_key] = raw
    if problems:
        raise pulumi.RunError("\n".join(problems))
    return values


def load_stack() -> Stack:
    try:
        stack, _ = stackfile.from_config(config_values(),
                                         f"stack {pulumi.get_stack()} (Pulumi config)")
    except stackfile.StackError as err:
        raise pulumi.RunError("\n".join(err.problems)) from None
    return stack


def main() -> Topology:
    stack = load_stack()
    topology = Topology(pulumi.get_stack(), TopologyArgs(stack))
    pulumi.export("phase", stack.phase)
    for key, value in topology.outputs.items():
        pulumi.export(key, value)
    return topology

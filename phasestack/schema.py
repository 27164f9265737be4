"""JSON Schema of a whole stack file (`phasestack schema`), for editors."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.stackfile import NAMESPACE, PROVIDER_NAMESPACES, SECRET_KEYS, TOP_LEVEL_KEYS


def file_schema() -> dict:
    """JSON Schema of a whole stack file, so editors can check stacks/Pulumi.<name>.yaml."""
    model = Stack.model_json_schema()
    secure = {"type": "object", "properties": {"secure": {"type": "string"}},
              "required": ["secure"], "additionalProperties": False,
              "description": "Set with `pulumi config set --secret`; never plain text."}
    config = {f"{NAMESPACE}:{k}": v for k, v in model["properties"].items()}
    config.update({f"{NAMESPACE}:{k}": secure for k in sorted(SECRET_KEYS)})
    providers = "|".join(sorted(PROVIDER_NAMESPACES))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "phasestack stack file (stacks/Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {"type": "object", "properties": config,
                       "patternProperties": {f"^({providers}):": {}},
                       "additionalProperties": False},
            **{k: {"type": "string"} for k in sorted(TOP_LEVEL_KEYS - {"config"})},
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": model.get("$defs", {}),
    }

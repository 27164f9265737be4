"""JSON Schema of a whole stack file (`phasestack schema`), for editors."""

from __future__ import annotations

from pydantic import BaseModel

from phasestack.model import Stack
from phasestack.stackfile import (
    NAMESPACE,
    PROGRAM_ONLY,
    PROVIDER_NAMESPACES,
    SECRET_KEYS,
    TOP_LEVEL_KEYS,
)


def _real_defaults(cls: type[BaseModel], schema: dict, defs: dict) -> None:
    """pydantic leaves a default_factory out of the schema, so `redis.resources` showed only
    the generic Resources defaults (cpu_limit "1", ...): put each field's real default in."""
    for name, field in cls.model_fields.items():
        prop = schema["properties"][name]
        if field.default_factory is not None:
            value = field.default_factory()
            prop["default"] = value.model_dump(mode="json") if isinstance(
                value, BaseModel) else value
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann.__name__ in defs:
            _real_defaults(ann, defs[ann.__name__], defs)


def file_schema() -> dict:
    """JSON Schema of a whole stack file, so editors can check stacks/Pulumi.<name>.yaml.
    Defaults are the model's, before a phase preset changes them."""
    model = Stack.model_json_schema()
    _real_defaults(Stack, model, model.get("$defs", {}))
    secure = {"type": "object", "properties": {"secure": {"type": "string"}},
              "required": ["secure"], "additionalProperties": False,
              "description": "Set with `pulumi config set --secret`; never plain text."}
    config = {f"{NAMESPACE}:{k}": v for k, v in model["properties"].items()
              if k not in PROGRAM_ONLY}
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

"""Custom resources against their CRD's openAPIV3Schema, strictly (as kubernetes-validate's
strict mode does for built-in kinds): an unknown field anywhere is an error, not pruned away.
The CEL rules (x-kubernetes-validations) and the operator's webhooks are the API server's and
the operator's to check (tests/e2e)."""

from __future__ import annotations

from functools import cache

import jsonschema

from phasestack.synth import cnpg_operator


def strict(node):
    """The structural schema as JSON Schema: objects with properties take no others (unless
    x-kubernetes-preserve-unknown-fields), int-or-string is either."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@cache
def _validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    return {key: jsonschema.Draft7Validator(strict(schema))
            for key, schema in cnpg_operator.crd_schemas().items()}


def errors(doc: dict) -> list[str]:
    """Every schema error of `doc` ("path: message"); KeyError for a kind no CRD defines."""
    validator = _validators()[(doc["apiVersion"], doc["kind"])]
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def validate_strict(doc: dict, version: str) -> None:
    """Any manifest we render, strictly: a custom resource against its CRD, a built-in kind
    against Kubernetes' own schema of `version` (kubernetes-validate). Raises on an error."""
    if doc["apiVersion"].startswith("postgresql.cnpg.io/"):
        found = errors(doc)
        if found:
            raise AssertionError(f"{doc['kind']}/{doc['metadata']['name']}: {found}")
        return
    import kubernetes_validate

    kubernetes_validate.validate(doc, version, strict=True)

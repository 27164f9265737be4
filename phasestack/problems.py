"""Turning YAML and pydantic errors into one message per problem, naming the key path."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from phasestack.model import Stack
from phasestack.model.base import MEANING

NAMESPACE = "phasestack"  # the Pulumi config namespace (stack files: phasestack:<key>)


def duplicate_keys(node, where: str = "") -> list[tuple[str, int]]:
    """(dotted key path, line) of every key a YAML mapping repeats; YAML keeps only the last."""
    found: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            name = f"{where}.{key.value}" if where else str(key.value)
            if key.value in seen:
                found.append((name, key.start_mark.line + 1))
            seen.add(key.value)
            found.extend(duplicate_keys(value, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(duplicate_keys(item, f"{where}.{i}"))
    return found


def hint(word: str, choices) -> str:
    match = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def describe(path: str | Path, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # cross-section rules (Stack validators) start their message with the key path
        key = f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE
        if err["type"] == "extra_forbidden":
            guess = hint(loc[-1], fields_at(loc[:-1]))
            problems.append(f"{path}: {key}: unknown key{guess}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and err["ctx"]["pattern"] in MEANING:
            msg = f"must be {MEANING[err['ctx']['pattern']]}"
        got = err.get("input")
        shown = "" if err["type"].startswith("value_error") or isinstance(got, dict) \
            else f" (got {got!r})"
        sep = ": " if loc else ":"
        problems.append(f"{path}: {key}{sep}{msg}{shown}")
    return problems


def fields_at(loc: list[str]) -> set[str]:
    model: type[BaseModel] = Stack
    for part in loc:
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return set()
    return set(model.model_fields)

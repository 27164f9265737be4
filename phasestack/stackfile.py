"""Load a Pulumi stack file into a validated Stack: defaults <- phase preset <- stack file."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from phasestack.model import PHASES, Stack
from phasestack.phases import preset

NAMESPACE = "phasestack"
# Keys set with `pulumi config set --secret`; they override generated credentials and are not
# part of the topology (DESIGN.md layer 5).
SECRET_KEYS = frozenset(
    {"postgresPassword", "appPassword", "replicationPassword", "redisPassword", "grafanaPassword"}
)
# Other config namespaces a Pulumi stack file may carry for providers.
PROVIDER_NAMESPACES = frozenset({"kubernetes", "docker", "random", "pulumi"})
TOP_LEVEL_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt"})


class StackError(Exception):
    """Bad input: one message per problem, each naming the file and the key path."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedStack:
    name: str
    path: Path
    stack: Stack
    secrets: frozenset[str]


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def stacks_dir(root: Path | None = None) -> Path:
    return (root or Path.cwd()) / "stacks"


def list_stack_files(root: Path | None = None) -> list[Path]:
    base = stacks_dir(root)
    return sorted(base.glob("Pulumi.*.yaml"), key=_order_key)


def _order_key(path: Path) -> tuple:
    name = stack_name(path)
    base, _, step = name.rpartition("-")
    generic = name in PHASES
    return (not generic, base if not generic else "", PHASES.index(step) if step in PHASES
            else 9 if not generic else PHASES.index(name), name)


def stack_name(path: Path) -> str:
    return path.name[len("Pulumi."):-len(".yaml")]


def resolve(ref: str, root: Path | None = None) -> Path:
    """STACK is a stack name (stacks/Pulumi.<name>.yaml) or a path to a stack file."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or "/" in ref:
        if path.is_dir():
            raise StackError([f"{ref}: is a directory; give a stack name or a stack file"])
        if not path.is_file():
            raise StackError([f"{ref}: no such stack file"])
        return path
    candidate = stacks_dir(root) / f"Pulumi.{ref}.yaml"
    if not candidate.is_file():
        known = [stack_name(p) for p in list_stack_files(root)]
        hint = difflib.get_close_matches(ref, known, n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise StackError([f"{candidate}: no stack named '{ref}'{extra}"])
    return candidate


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load(ref: str | Path, root: Path | None = None) -> LoadedStack:
    path = resolve(str(ref), root)
    try:
        text = path.read_text()
        duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        if duplicates:
            raise StackError([f"{path}: {key}: key given twice (line {line}); only one value "
                              "can win" for key, line in duplicates])
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StackError([f"{path}: YAML syntax error{where}: {problem}"]) from None
    except UnicodeDecodeError as exc:
        raise StackError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise StackError([f"{path}: cannot read: {exc.strerror}"]) from None
    stack, secrets = from_config(_config_section(path, raw), path)
    return LoadedStack(stack_name(path), path, stack, secrets)


# Top-level config keys whose values are mappings (pulumi.Config.get_object); the rest are
# plain strings (pulumi.Config.get), so a review id like "002" stays a string.
STRUCTURED_KEYS = frozenset(
    name for name, field in Stack.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))


def from_config(config: dict, source: str | Path) -> tuple[Stack, frozenset[str]]:
    """Validate a stack's `config:` mapping ('phasestack:<key>' -> value): defaults <- phase
    preset <- config. `source` names where it came from in every message. Returns the Stack
    and the names of the secret keys it sets."""
    data, secrets = _namespaced(source, config)
    phase = data.get("phase", "mvp")
    if phase not in PHASES:
        raise StackError([f"{source}: {NAMESPACE}:phase: must be one of {', '.join(PHASES)}, "
                          f"got {phase!r}"])
    try:
        stack = Stack.model_validate(deep_merge(preset(phase), data))
    except ValidationError as exc:
        raise StackError(_describe(source, exc)) from None
    return stack, frozenset(secrets)


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


def _duplicate_keys(node, where: str = "") -> list[tuple[str, int]]:
    """(dotted key path, line) of every key a YAML mapping repeats; YAML keeps only the last."""
    found: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            name = f"{where}.{key.value}" if where else str(key.value)
            if key.value in seen:
                found.append((name, key.start_mark.line + 1))
            seen.add(key.value)
            found.extend(_duplicate_keys(value, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, f"{where}.{i}"))
    return found


def _config_section(path: Path, raw: Any) -> dict:
    if raw is None:
        raise StackError([f"{path}: the file is empty; expected a 'config:' mapping"])
    if not isinstance(raw, dict):
        raise StackError([f"{path}: expected a mapping with a 'config:' key, "
                          f"got {type(raw).__name__}"])
    problems = [f"{path}: {key}: unknown top-level key (Pulumi stack files hold "
                f"{', '.join(sorted(TOP_LEVEL_KEYS))})" for key in raw if key not in TOP_LEVEL_KEYS]
    config = raw.get("config")
    if not isinstance(config, dict):
        problems.append(f"{path}: config: expected a mapping of '{NAMESPACE}:<key>' entries")
    if problems:
        raise StackError(problems)
    return config


def _namespaced(path: str | Path, config: dict) -> tuple[dict, set[str]]:
    problems: list[str] = []
    data: dict = {}
    secrets: set[str] = set()
    fields = set(Stack.model_fields)
    for key, value in config.items():
        ns, sep, name = str(key).partition(":")
        if not sep:
            problems.append(
                f"{path}: config.{key}: keys need a namespace, e.g. '{NAMESPACE}:{key}'")
        elif ns in PROVIDER_NAMESPACES:
            continue
        elif ns != NAMESPACE:
            problems.append(f"{path}: config.{key}: unknown namespace '{ns}'"
                            f"{_hint(ns, [NAMESPACE, *PROVIDER_NAMESPACES])}")
        elif name in SECRET_KEYS:
            if not (isinstance(value, dict) and set(value) == {"secure"}):
                problems.append(f"{path}: {key}: plain-text secret; set it with "
                                f"`pulumi config set --secret {key}`")
            secrets.add(name)
        elif name not in fields:
            problems.append(f"{path}: {key}: unknown key{_hint(name, fields | SECRET_KEYS)}")
        else:
            data[name] = value
    if problems:
        raise StackError(problems)
    return data, secrets


def _hint(word: str, choices) -> str:
    match = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _describe(path: str | Path, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # cross-section rules (Stack validators) start their message with the key path
        key = f"{NAMESPACE}:{'.'.join(loc)}" if loc else NAMESPACE
        if err["type"] == "extra_forbidden":
            hint = _hint(loc[-1], _fields_at(loc[:-1]))
            problems.append(f"{path}: {key}: unknown key{hint}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if err["type"].startswith("value_error") or isinstance(got, dict) \
            else f" (got {got!r})"
        sep = ": " if loc else ":"
        problems.append(f"{path}: {key}{sep}{msg}{shown}")
    return problems


def _fields_at(loc: list[str]) -> set[str]:
    model: type[BaseModel] = Stack
    for part in loc:
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return set()
    return set(model.model_fields)

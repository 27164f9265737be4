"""Load a Pulumi stack file into a validated Stack: defaults <- phase preset <- stack file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from phasestack import safe_yaml
from phasestack.errors import StackError  # noqa: F401 - raised here, imported from here too
from phasestack.model import PHASES, Stack
from phasestack.phases import deep_merge, preset
from phasestack.problems import NAMESPACE, describe, duplicate_keys, hint

# Keys set with `pulumi config set --secret`; they override generated credentials and are not
# part of the topology (DESIGN.md layer 5).
SECRET_KEYS = frozenset(
    {"postgresPassword", "appPassword", "replicationPassword", "monitorPassword",
     "redisPassword", "redisAdminPassword", "grafanaPassword"}
)
# Other config namespaces a Pulumi stack file may carry for providers.
PROVIDER_NAMESPACES = frozenset({"kubernetes", "docker", "random", "pulumi"})
# Stack fields a stack file may not set: only a component used on its own sets them.
PROGRAM_ONLY = frozenset({"prefix", "targets"})
TOP_LEVEL_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt"})


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
    """`Pulumi.<name>.yaml` names the stack <name> (Pulumi's convention); any other file is
    named by its stem (prod.yaml -> prod, stack-mvp.yml -> stack-mvp)."""
    name = Path(path).name
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix) \
                and len(name) > len("Pulumi.") + len(suffix):
            return name[len("Pulumi."):-len(suffix)]
    return Path(path).stem


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
        raise StackError([f"{candidate}: no stack named '{ref}'{hint(ref, known)}"])
    return candidate


def load(ref: str | Path, root: Path | None = None) -> LoadedStack:
    path = resolve(str(ref), root)
    try:
        text = path.read_text()
        root = safe_yaml.compose(text)  # parsed once: checked, then constructed
        duplicates = duplicate_keys(root)
        if duplicates:
            raise StackError([f"{path}: {key}: key given twice (line {line}); only one value "
                              "can win" for key, line in duplicates])
        raw = safe_yaml.construct(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StackError([f"{path}: YAML syntax error{where}: {problem}"]) from None
    except safe_yaml.YamlLimit as exc:
        raise StackError([f"{path}: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise StackError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise StackError([f"{path}: cannot read: {exc.strerror}"]) from None
    config, problems = _config_section(path, raw)
    stack, secrets = from_config(config, path, problems)
    return LoadedStack(stack_name(path), path, stack, secrets)


# Top-level config keys whose values are mappings (pulumi.Config.get_object); the rest are
# plain strings (pulumi.Config.get), so a review id like "002" stays a string.
STRUCTURED_KEYS = frozenset(
    name for name, field in Stack.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))


def from_config(config: dict, source: str | Path,
                problems: list[str] | None = None) -> tuple[Stack, frozenset[str]]:
    """Validate a stack's `config:` mapping ('phasestack:<key>' -> value): defaults <- phase
    preset <- config. `source` names where it came from in every message. Returns the Stack
    and the names of the secret keys it sets. Every problem of the file is reported at once
    (`problems`: those found before), not only the first kind (issue 12)."""
    problems = list(problems or [])
    data, secrets = _namespaced(source, config, problems)
    phase = data.get("phase", "mvp")
    stack = None
    if phase not in PHASES:
        problems.append(f"{source}: {NAMESPACE}:phase: must be one of {', '.join(PHASES)}, "
                        f"got {phase!r}")
    else:
        try:
            stack = Stack.model_validate(deep_merge(preset(phase), data))
        except ValidationError as exc:
            problems.extend(describe(source, exc))
    if problems or stack is None:
        raise StackError(problems)
    return stack, frozenset(secrets)


def _config_section(path: Path, raw: Any) -> tuple[dict, list[str]]:
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
        raise StackError(problems)
    return config, problems


def _namespaced(path: str | Path, config: dict, problems: list[str]) -> tuple[dict, set[str]]:
    """The phasestack: keys of `config`; what is wrong with the others goes to `problems`."""
    data: dict = {}
    secrets: set[str] = set()
    fields = set(Stack.model_fields) - PROGRAM_ONLY
    for key, value in config.items():
        ns, sep, name = str(key).partition(":")
        if not sep:
            problems.append(
                f"{path}: config.{key}: keys need a namespace, e.g. '{NAMESPACE}:{key}'")
        elif ns in PROVIDER_NAMESPACES:
            continue
        elif ns != NAMESPACE:
            problems.append(f"{path}: config.{key}: unknown namespace '{ns}'"
                            f"{hint(ns, [NAMESPACE, *PROVIDER_NAMESPACES])}")
        elif name in SECRET_KEYS:
            if not (isinstance(value, dict) and set(value) == {"secure"}):
                problems.append(f"{path}: {key}: plain-text secret; set it with "
                                f"`pulumi config set --secret {key}`")
            secrets.add(name)
        elif name in PROGRAM_ONLY:
            problems.append(f"{path}: {key}: set by a component used on its own in a Pulumi "
                            "program, not by a stack file (a stack owns its namespace)")
        elif name not in fields:
            problems.append(f"{path}: {key}: unknown key{hint(name, fields | SECRET_KEYS)}")
        else:
            data[name] = value
    return data, secrets

"""Phase-to-phase diff of two stacks' synthesized manifests (pure, never imports pulumi).

Identity is kind + name. Each stack lives in its own namespace, which must not show up as a
change: each side is synthesized into the same reserved namespace name, and only occurrences of
that name (metadata.namespace, DNS names, RBAC subjects, queries) become a placeholder. A bare-word
rewrite of the stack's own namespace would also hit label keys and values that merely contain the
same word (namespace `app` vs `app.kubernetes.io/name`). Config-hash annotations, which only
restate ConfigMaps, are not compared. Both sides are synthesized with the same placeholder
credentials and Secret values are masked: a diff reports only which Secret keys appear or
disappear, never a value.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from phasestack.model import Stack
from phasestack.synth import component_of, order_key, synthesize
from phasestack.synth.common import CONFIG_HASH
from phasestack.synth.secrets import CREDENTIALS

NAMESPACE = "<namespace>"
# Both sides are synthesized into this namespace (a valid name, never a word of any manifest).
DIFF_NAMESPACE = "phasestack-diff-namespace-placeholder"
MASKED = "<hidden>"
# The pod-template annotation hashing a ConfigMap rolls the pods when it changes; the ConfigMap
# is compared itself, so its hash would only say the same thing again.
HASHED = "<config hash>"
ABSENT = "(absent)"
# Identical on both sides, never a real credential: only Secret structure can differ.
PLACEHOLDER_VALUES = {name: "phasestack-diff-placeholder" for name in CREDENTIALS}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_LINES = 40  # changed lines shown per multi-line value
LONG = 100  # longer single-line values that are separated lists are diffed item by item


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    component: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any
    lines: list[str] = field(default_factory=list)  # +/- lines (or items) of a long value
    unit: str = "lines"

    @property
    def summary(self) -> str:
        if self.lines:
            plus = sum(1 for line in self.lines if line.startswith("+"))
            minus = sum(1 for line in self.lines if line.startswith("-"))
            return f"{self.path}: +{plus} -{minus} {self.unit}"
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


@dataclass(frozen=True)
class Change:
    ref: Ref
    fields: list[FieldChange]


@dataclass(frozen=True)
class Diff:
    name_a: str
    name_b: str
    added: list[Ref]
    removed: list[Ref]
    changed: list[Change]
    unchanged: int
    # (from, to) when the stacks deploy to different targets: the biggest change there is
    target: tuple[str, str] | None = None

    def components(self) -> list[str]:
        names = {r.component for r in self.added + self.removed}
        names |= {c.ref.component for c in self.changed}
        return sorted(names)

    def as_dict(self) -> dict:
        return asdict(self)


def _show(value: Any) -> str:
    if value is ABSENT:
        return ABSENT
    return json.dumps(value, sort_keys=True)


def _replace_ns(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(DIFF_NAMESPACE, NAMESPACE)
    if isinstance(value, dict):
        return {_replace_ns(k): _replace_ns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_ns(v) for v in value]
    return value


def normalise(stack: Stack) -> dict[tuple[str, str], dict]:
    """(kind, name) -> manifest with the namespace replaced and Secret values masked."""
    # The stack is synthesized into DIFF_NAMESPACE, a name no manifest contains otherwise, so
    # replacing it touches exactly the places the namespace went and nothing that merely
    # spells the same word (a namespace called `app` or `redis`).
    out = {}
    for doc in synthesize(stack.model_copy(update={"namespace": DIFF_NAMESPACE}),
                          PLACEHOLDER_VALUES):
        doc = _replace_ns(doc)
        notes = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")
        for key in notes or {}:
            if key == CONFIG_HASH:
                notes[key] = HASHED
        if doc["kind"] == "Secret":
            for key in ("stringData", "data"):
                if key in doc:
                    doc[key] = {k: MASKED for k in doc[key]}
        out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.match(key) else f'{path}["{key}"]'


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("name"), str)
                               for i in items) and len({i["name"] for i in items}) == len(items)


def _lines(old: str, new: str) -> list[str]:
    out = [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="",
                                                  n=0)
           if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return _cap(out)


def _cap(out: list[str]) -> list[str]:
    return out if len(out) <= MAX_LINES else [*out[:MAX_LINES],
                                              f" ... {len(out) - MAX_LINES} more lines"]


def _separator(old: str, new: str) -> str | None:
    """A long single-line list (node addresses, CIDRs) is diffed item by item."""
    if max(len(old), len(new)) <= LONG:
        return None
    for sep in (",", " "):
        if sep in old and sep in new:
            return sep
    return None


def compare(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Field changes between two values: dotted paths, list items by name where they have one."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = _key_path(path, str(key)) if path else (str(key) if _IDENT.match(str(key))
                                                          else f'["{key}"]')
            out += compare(old.get(key, ABSENT), new.get(key, ABSENT), sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if _named(old) and _named(new):
            a, b = {i["name"]: i for i in old}, {i["name"]: i for i in new}
            out = []
            for key in [*a, *(k for k in b if k not in a)]:
                out += compare(a.get(key, ABSENT), b.get(key, ABSENT), f"{path}[{key}]")
            return out
        if len(old) == len(new):
            return [fc for i, (x, y) in enumerate(zip(old, new, strict=True))
                    for fc in compare(x, y, f"{path}[{i}]")]
        items = [f"-{_show(x)}" for x in old if x not in new]
        items += [f"+{_show(x)}" for x in new if x not in old]
        return [FieldChange(path, old, new, items, "items")]
    if isinstance(new, str) and "\n" in new and old is ABSENT:
        return [FieldChange(path, old, new, _cap([f"+{x}" for x in new.splitlines()]))]
    if isinstance(old, str) and "\n" in old and new is ABSENT:
        return [FieldChange(path, old, new, _cap([f"-{x}" for x in old.splitlines()]))]
    if isinstance(old, str) and isinstance(new, str):
        if "\n" in old or "\n" in new:
            return [FieldChange(path, old, new, _lines(old, new))]
        sep = _separator(old, new)
        if sep:
            a, b = old.split(sep), new.split(sep)
            items = [f"-{x}" for x in a if x not in b] + [f"+{x}" for x in b if x not in a]
            return [FieldChange(path, old, new, items, "items")]
    return [FieldChange(path, old, new)]


def _resources(stack: Stack, other: Stack) -> dict[tuple[str, str], dict]:
    """A Docker host has no Kubernetes resources: moving to or from one adds or removes all of
    the cluster's (issue 12: docker -> kubernetes said "0 changed")."""
    if stack.target == "docker" and other.target != "docker":
        return {}
    return normalise(stack)


def diff(stack_a: Stack, stack_b: Stack, name_a: str = "a", name_b: str = "b") -> Diff:
    a, b = _resources(stack_a, stack_b), _resources(stack_b, stack_a)

    def ref(doc: dict) -> Ref:
        return Ref(doc["kind"], doc["metadata"]["name"], component_of(doc) or "namespace")

    def ordered(keys, docs) -> list[dict]:
        return sorted((docs[k] for k in keys), key=order_key)

    added = [ref(d) for d in ordered(b.keys() - a.keys(), b)]
    removed = [ref(d) for d in ordered(a.keys() - b.keys(), a)]
    changed, same = [], 0
    for doc in ordered(a.keys() & b.keys(), b):
        key = (doc["kind"], doc["metadata"]["name"])
        fields = compare(a[key], doc)
        if fields:
            changed.append(Change(ref(doc), fields))
        else:
            same += 1
    moved = (stack_a.target, stack_b.target) if stack_a.target != stack_b.target else None
    return Diff(name_a, name_b, added, removed, changed, same, moved)


def summary(d: Diff) -> str:
    counts = (f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
              f"{d.unchanged} unchanged")
    if d.target:
        return (f"target {d.target[0]} -> {d.target[1]}: every component is deployed anew "
                f"and the data moves by dump and restore; Kubernetes resources {counts}")
    return counts


def text(d: Diff) -> str:
    lines = [f"diff {d.name_a} -> {d.name_b}: {summary(d)}"]
    for comp in d.components():
        lines += ["", f"[{comp}]"]
        lines += [f"  + {r.label}" for r in d.added if r.component == comp]
        lines += [f"  - {r.label}" for r in d.removed if r.component == comp]
        for ch in (c for c in d.changed if c.ref.component == comp):
            lines.append(f"  ~ {ch.ref.label}")
            for fc in ch.fields:
                lines.append(f"      {fc.summary}")
                lines += [f"        {line}" for line in fc.lines]
    return "\n".join(lines)


def markdown(d: Diff) -> str:
    lines = [f"## Diff `{d.name_a}` → `{d.name_b}`", "", f"{summary(d)}."]
    for comp in d.components():
        lines += ["", f"### {comp}", ""]
        lines += [f"- **added** `{r.label}`" for r in d.added if r.component == comp]
        lines += [f"- **removed** `{r.label}`" for r in d.removed if r.component == comp]
        for ch in (c for c in d.changed if c.ref.component == comp):
            lines.append(f"- **changed** `{ch.ref.label}`")
            for fc in ch.fields:
                if fc.lines:
                    lines += [f"  - {fc.summary.replace(fc.path, f'`{fc.path}`', 1)}",
                              "", "    ```diff", *(f"    {x}" for x in fc.lines), "    ```", ""]
                else:
                    lines.append(f"  - `{fc.path}`: `{_show(fc.old)}` → `{_show(fc.new)}`")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip("\n")


def as_json(d: Diff) -> dict:
    def field_json(fc: FieldChange) -> dict:
        op = "added" if fc.old is ABSENT else "removed" if fc.new is ABSENT else "changed"
        out = {"path": fc.path, "op": op}
        if fc.lines:
            out.update(unit=fc.unit, lines=fc.lines)
        else:
            out.update(old=None if fc.old is ABSENT else fc.old,
                       new=None if fc.new is ABSENT else fc.new)
        return out

    return {"from": d.name_a, "to": d.name_b,
            "added": [asdict(r) for r in d.added], "removed": [asdict(r) for r in d.removed],
            "changed": [{**asdict(c.ref), "fields": [field_json(f) for f in c.fields]}
                        for c in d.changed],
            "unchanged": d.unchanged,
            "target": {"from": d.target[0], "to": d.target[1]} if d.target else None}

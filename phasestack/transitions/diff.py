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

import re
from dataclasses import asdict, dataclass
from typing import Any

from phasestack.model import Stack
from phasestack.synth import component_of, order_key, synthesize
from phasestack.synth.common import CONFIG_HASH
from phasestack.synth.secrets import CREDENTIALS
from phasestack.transitions.compare import ABSENT, FieldChange, compare, show

NAMESPACE = "<namespace>"
# Both sides are synthesized into this namespace (a valid name, never a word of any manifest).
DIFF_NAMESPACE = "phasestack-diff-namespace-placeholder"
MASKED = "<hidden>"
# The pod-template annotation hashing a ConfigMap rolls the pods when it changes; the ConfigMap
# is compared itself, so its hash would only say the same thing again.
HASHED = "<config hash>"
# Identical on both sides, never a real credential: only Secret structure can differ.
PLACEHOLDER_VALUES = {name: "phasestack-diff-placeholder" for name in CREDENTIALS}


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    component: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


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
                    lines.append(f"  - `{fc.path}`: `{show(fc.old)}` → `{show(fc.new)}`")
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

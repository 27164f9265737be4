"""Field-level comparison of two manifests' values (pure): dotted paths, list items by name
where they have one, long texts and long separated lists diffed line by line or item by item
(transitions.diff uses it for every changed resource)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

ABSENT = "(absent)"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_LINES = 40  # changed lines shown per multi-line value
LONG = 100  # longer single-line values that are separated lists are diffed item by item


def show(value: Any) -> str:
    if value is ABSENT:
        return ABSENT
    return json.dumps(value, sort_keys=True)


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
        return f"{self.path}: {show(self.old)} -> {show(self.new)}"


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
        items = [f"-{show(x)}" for x in old if x not in new]
        items += [f"+{show(x)}" for x in new if x not in old]
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

"""Generates the hostile stack-file corpus (issue 11's audit, kept as a script, not 1,000 files
in git): every leaf field of a full phase3 stack, each replaced by each payload of its kind.

    .venv/bin/python tests/unit/hostile.py DIR     # writes the corpus, prints its size
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from phasestack.model import Stack
from phasestack.phases import preset
from phasestack.stackfile import deep_merge

MARK = "PWN"  # every string payload carries it, so a render that kept one is easy to find
STRINGS = [
    f"{MARK}; include /etc/passwd",
    f"x\n{MARK} server {{ listen 1; }}",
    f"{MARK}' OR '1'='1",
    f"$({MARK})`{MARK}`",
    f"{{{{ {MARK} }}}}",
    f"fe80::1%{MARK};",
    f"0.0.0.0/1 {MARK}",
    f"../../{MARK}",
    f"{MARK}\x00nul",
    f"{MARK}" * 3000,
    f"{MARK} 🙂",
    "",
]
NUMBERS = [-1, 0, 2**63, 1e308, "1", True, None, [], {}]
BOOLS = ["yes", 1, None, "true"]
LISTS = ["not-a-list", [None], [f"{MARK};"], [{"a": 1}]]


def _leaves(data, path=()) -> Iterator[tuple[tuple[str, ...], object]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, data


def _nest(path: tuple[str, ...], value) -> dict:
    out = value
    for key in reversed(path):
        out = {key: out}
    return out


def payloads(value) -> list:
    if isinstance(value, bool):
        return BOOLS
    if isinstance(value, int | float):
        return NUMBERS
    if isinstance(value, list):
        return LISTS
    return STRINGS + NUMBERS[:3]


def corpus() -> Iterator[tuple[str, dict, object]]:
    """(label, stack-file document, payload) for every field x payload."""
    base = Stack.model_validate(deep_merge(preset("phase3"), {"phase": "phase3"}))
    for path, value in _leaves(base.model_dump(mode="json")):
        if path == ("phase",):
            continue
        for i, payload in enumerate(payloads(value)):
            top, rest = path[0], path[1:]
            config = {"phasestack:phase": "phase3",
                      f"phasestack:{top}": _nest(rest, payload) if rest else payload}
            yield f"{'.'.join(path)}#{i}", {"config": config}, payload


def write(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, (label, doc, _) in enumerate(corpus(), 1):
        (out / f"Pulumi.h{count}.yaml").write_text(
            f"# {label!r}\n" + yaml.safe_dump(doc, allow_unicode=True))
    return count


if __name__ == "__main__":
    print(write(Path(sys.argv[1])), "files")

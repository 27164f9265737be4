"""Render a stack to files: one multi-document YAML per component, Secrets apart (mode 0600).

Secret values come from PHASESTACK_<NAME> environment variables, else from the secrets.yaml an
earlier render left in the same directory (re-rendering never rotates live passwords), else are
generated; they are written only to secrets.yaml (mode 0600, git-ignored by the .gitignore
written beside it) and never to stdout.

A render replaces its output directory whole, so it only ever replaces a directory it made
itself (marked by MARKER) or an empty one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from phasestack.catalog import MIGRATION
from phasestack.errors import TargetError
from phasestack.model import Stack
from phasestack.safe_yaml import FAST
from phasestack.synth import component_of, order_key, secrets, synthesize

SECRETS_FILE = "secrets.yaml"
MARKER = ".phasestack-render"


def check_target(out: Path) -> None:
    out, here = out.resolve(), Path.cwd().resolve()
    if out == here or out in here.parents:
        raise TargetError(f"--out {out}: is the current directory or one of its parents; "
                          "render replaces its output directory whole")
    if out.exists() and not out.is_dir():
        raise TargetError(f"--out {out}: is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise TargetError(f"--out {out}: not empty and not made by phasestack render (no "
                          f"{MARKER}); choose a new or empty directory")


def previous_credentials(out: Path) -> dict[str, str]:
    """Credentials of an earlier render into `out`, so the next one keeps them. Checked like
    supplied ones (they go into URLs and the PgBouncer userlist); a problem names the file and
    the Secret key, never the value."""
    path = out / SECRETS_FILE
    if not ((out / MARKER).is_file() and path.is_file()):
        return {}
    try:
        docs = list(yaml.load_all(path.read_text(), Loader=FAST))  # a safe loader (libyaml)
        values = secrets.from_manifests([d for d in docs if d])
    except (yaml.YAMLError, UnicodeDecodeError, AttributeError, TypeError, KeyError):
        raise TargetError(f"{path}: not the Secret manifests a render writes; move it away "
                          "(or export its credentials as PHASESTACK_*) and render again") from None
    bad = [f"{secret}.{key}" for c, (secret, key) in secrets.CREDENTIALS.items()
           if c in values and not secrets.url_safe(values[c])]
    if bad:
        raise TargetError(f"{path}: {', '.join(bad)}: {secrets.SUPPLIED_RULE}")
    return values


# libyaml's emitter where PyYAML has it (issue 17: the pure-Python writer was 30% of `render`);
# the same text byte for byte, tests/unit/test_render.py compares both
_Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):
    def ignore_aliases(self, data) -> bool:
        # a dict used twice (a probe, RBAC verbs) is written out twice: manifests with &id001
        # anchors are valid YAML, but unreadable in a review and a diff
        return True


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_all(docs: list[dict]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         width=100, explicit_start=True)


def manifests(stack: Stack, values: dict[str, str] | None = None) -> list[dict]:
    return synthesize(stack, values if values is not None else secrets.from_environment())


def split(docs: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
    """(component -> non-secret manifests, secret manifests), each in apply order."""
    groups: dict[str, list[dict]] = {}
    hidden = []
    for doc in docs:
        if doc["kind"] == "Secret":
            hidden.append(doc)
        else:
            groups.setdefault(component_of(doc) or "namespace", []).append(doc)
    return groups, hidden


def files(docs: list[dict]) -> tuple[dict[str, str], str]:
    """(file name -> YAML text for non-secret manifests, secrets.yaml text)."""
    groups, hidden = split(docs)
    first = {name: min(order_key(d) for d in group) for name, group in groups.items()}
    ordered = sorted(groups, key=lambda n: (first[n], n))
    if MIGRATION in ordered and "api" in ordered:  # its Job runs before the API rolls out
        ordered.remove(MIGRATION)
        ordered.insert(ordered.index("api"), MIGRATION)
    out = {f"{i:02d}-{name}.yaml": dump_all(groups[name]) for i, name in enumerate(ordered)}
    return out, dump_all(hidden)


def write(out: Path, docs: list[dict]) -> list[Path]:
    """The files; secrets.yaml only when the stack has Secrets of its own (credentials:
    existing renders none: the directory can be committed and applied as is)."""
    texts, secret_text = files(docs)
    has_secrets = any(d["kind"] == "Secret" for d in docs)
    return write_texts(out, texts, {SECRETS_FILE: secret_text} if has_secrets else None)


def _marker_text() -> str:
    return ("Written by `phasestack render`: the next render into this directory replaces it "
            "whole.\n")


def write_texts(out: Path, texts: dict[str, str], private: dict[str, str] | None = None
                ) -> list[Path]:
    """Write atomically: build in a temp dir beside `out`, then swap it in. Private files get
    mode 0600 and a .gitignore entry."""
    check_target(out)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        (tmp / MARKER).write_text(_marker_text())
        for name, text in texts.items():
            (tmp / name).write_text(text)
        for name, text in (private or {}).items():
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        if private:
            (tmp / ".gitignore").write_text("".join(f"{name}\n" for name in sorted(private)))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / "x")
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(out.iterdir())


def stdout_text(docs: list[dict]) -> str:
    groups, _ = split(docs)
    return dump_all(sorted((d for g in groups.values() for d in g), key=order_key))

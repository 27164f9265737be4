"""Secrets as environment variables and files, and the jinja2 templates (pure). Templates get
plain data only, under StrictUndefined."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jinja2


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


SECRETS_DIR = "/run/secrets"


def secret_volume(name: str, secret: str, keys: list[str]) -> dict:
    """A Secret as files (only `keys`), readable by the pod's group (fsGroup): servers that
    read a password from a file get it this way rather than from their environment."""
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440,
                                     "items": [{"key": k, "path": k} for k in keys]}}


def secret_mount(name: str) -> dict:
    return {"name": name, "mountPath": f"{SECRETS_DIR}/{name}", "readOnly": True}


def secret_file_env(var: str, volume: str, key: str) -> dict:
    """VAR_FILE=<the key's file in the secret_volume `volume`> (the *_FILE convention of the
    postgres image, postgres_exporter and phasestack's own scripts)."""
    return {"name": f"{var}_FILE", "value": f"{SECRETS_DIR}/{volume}/{key}"}


def templates_dir() -> Path:
    """templates/ in a checkout; phasestack/templates inside an installed wheel."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "templates"
    return packaged if packaged.is_dir() else here.parent / "templates"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept across processes (issue 17: compiling the templates was ~60 ms
    of every render), outside the checkout: $XDG_CACHE_HOME or ~/.cache, phasestack/jinja-<v>.
    Jinja keys each entry by the template's name and checks its source's checksum, so an
    edited template is compiled again. None (compile in memory) where that cannot be written."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        where = base / "phasestack" / f"jinja-{jinja2.__version__}"
        where.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    return jinja2.FileSystemBytecodeCache(str(where)) if os.access(where, os.W_OK) else None


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False,
        bytecode_cache=_bytecode_cache())


def render_template(path: str, **data) -> str:
    """Render templates/<path> with StrictUndefined from plain data. No line ends in a space
    (`logfile = ` with an empty value): a ConfigMap then reads as the file itself, a literal
    block in the manifest, not a folded and escaped string (issue 15)."""
    text = _env().get_template(path).render(**data)
    return "\n".join(line.rstrip(" \t") for line in text.split("\n"))

"""Golden pgbouncer.ini per phase stack with PgBouncer: a change to the rendered file must be
deliberate. Numbers: review 002 (002_f99052a1f9a0162e.txt), "Phase 2: PgBouncer" compose block.

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_golden_pgbouncer.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phasestack.stackfile import load, project_root
from phasestack.synth import pgbouncer

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_pgbouncer_ini_matches_golden(phase):
    stack = load(phase, project_root()).stack
    assert stack.pgbouncer.enabled
    rendered = pgbouncer.pgbouncer_ini(stack)
    path = GOLDEN / f"pgbouncer-{phase}.ini"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{path.name} differs: review, then UPDATE_GOLDEN=1"


def test_mvp_has_no_pgbouncer():
    stack = load("mvp", project_root()).stack
    assert not stack.pgbouncer.enabled and pgbouncer.manifests(stack) == []

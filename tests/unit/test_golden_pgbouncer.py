"""Golden pgbouncer.ini per phase stack with PgBouncer: a change to the rendered file must be
deliberate. Numbers: review 002 (002_f99052a1f9a0162e.txt), "Phase 2: PgBouncer" compose block.

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_golden_pgbouncer.py
"""

from __future__ import annotations

import pytest

from phasestack.stackfile import load, project_root
from phasestack.synth import pgbouncer


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3"])
def test_pgbouncer_ini_matches_golden(phase, golden):
    stack = load(phase, project_root()).stack
    assert stack.pgbouncer.enabled
    golden(f"pgbouncer-{phase}.ini", pgbouncer.pgbouncer_ini(stack))


def test_mvp_has_no_pgbouncer():
    stack = load("mvp", project_root()).stack
    assert not stack.pgbouncer.enabled and pgbouncer.manifests(stack) == []

"""Golden nginx.conf per generic phase stack: a change to the rendered config must be deliberate.

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_golden_nginx.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phasestack.model import PHASES
from phasestack.stackfile import load, project_root
from phasestack.synth import nginx

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.mark.parametrize("phase", PHASES)
def test_nginx_conf_matches_golden(phase):
    rendered = nginx.nginx_conf(load(phase, project_root()).stack)
    path = GOLDEN / f"nginx-{phase}.conf"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{path.name} differs: review, then UPDATE_GOLDEN=1"

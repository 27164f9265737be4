"""Golden nginx.conf per generic phase stack: a change to the rendered config must be deliberate.

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_golden_nginx.py
"""

from __future__ import annotations

import pytest

from phasestack.model import PHASES
from phasestack.stackfile import load, project_root
from phasestack.synth import nginx


@pytest.mark.parametrize("phase", PHASES)
def test_nginx_conf_matches_golden(phase, golden):
    golden(f"nginx-{phase}.conf", nginx.nginx_conf(load(phase, project_root()).stack))

"""Shared unit-test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.fixture
def golden():
    """Compare rendered text with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites the file, so a
    change to generated output is always a reviewed diff."""

    def check(name: str, rendered: str) -> None:
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(rendered)
        assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1"
        assert rendered == path.read_text(), f"{name} differs: review, then UPDATE_GOLDEN=1"

    return check


@pytest.fixture
def refusal():
    """The one message a model refuses with: refusal(lambda: Model(...)) -> "..." (pydantic's
    "Value error, " prefix dropped)."""
    from pydantic import ValidationError

    def message(make) -> str:
        with pytest.raises(ValidationError) as err:
            make()
        (first,) = err.value.errors()
        return first["msg"].removeprefix("Value error, ")

    return message

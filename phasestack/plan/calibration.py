"""A team's own measured capacities in place of the planner's defaults (`phasestack plan
--calibration FILE`): the JSON `python -m benchmarks.capacity --json FILE` writes. A figure
replaces the default; one the stack file sets itself stays (it is the team's word too)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phasestack.errors import PhasestackError
from phasestack.model import Stack

MANY = 10**9


class Figures(BaseModel):
    """The per-unit capacities the planner multiplies (each optional: give what you measured)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              populate_by_name=True, defer_build=True)

    nginx_rps_per_replica: float | None = Field(
        None, gt=0, le=MANY, alias="nginx.rps_per_replica",
        description="Requests/s one nginx pod proxies (nginx.rps_per_replica).")
    redis_ops_standalone: float | None = Field(
        None, gt=0, le=MANY, alias="redis.ops_per_master.standalone",
        description="ops/s of a standalone Redis (redis.ops_per_master, mode standalone).")
    redis_ops_cluster: float | None = Field(
        None, gt=0, le=MANY, alias="redis.ops_per_master.cluster",
        description="ops/s of one Cluster master (redis.ops_per_master, mode cluster).")


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)

    machine: str = Field(min_length=1, max_length=500,
                         description="What the figures were measured on.")
    stack: str = Field("", max_length=200, description="The stack whose configs were measured.")
    figures: Figures = Field(description="The measured capacities.")
    measurements: list[dict] = Field(default_factory=list,
                                     description="The benchmark's rows, as it printed them.")


def read(path: Path) -> Calibration:
    """The calibration in `path`; bad input is a PhasestackError naming the file and key."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PhasestackError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PhasestackError(f"{path}: not JSON: {exc}") from None
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        raise PhasestackError([
            f"{path}: {'.'.join(str(p) for p in err['loc']) or 'the file'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            + ("" if isinstance(err.get("input"), dict | list) else f" (got {err['input']!r})")
            for err in exc.errors(include_url=False)]) from None


def apply(stack: Stack, cal: Calibration) -> tuple[Stack, list[str]]:
    """`stack` with the calibrated figures where it keeps the defaults, and what was taken
    ("nginx.rps_per_replica 9,876 (was the default 5,000)")."""
    f, taken = cal.figures, []
    redis_ops = f.redis_ops_cluster if stack.redis.mode == "cluster" else f.redis_ops_standalone
    updates = {"nginx": {"rps_per_replica": f.nginx_rps_per_replica},
               "redis": {"ops_per_master": redis_ops}}
    for section, fields in updates.items():
        model = getattr(stack, section)
        changed = {}
        for name, value in fields.items():
            if value is None:
                continue
            if name in model.model_fields_set:
                taken.append(f"{section}.{name}: the stack's own {getattr(model, name):,.0f} "
                             f"kept (calibration {value:,.0f})")
                continue
            changed[name] = value
            taken.append(f"{section}.{name} {value:,.0f} (default {getattr(model, name):,.0f})")
        if changed:
            stack = stack.model_copy(update={section: model.model_copy(update=changed)})
    return stack, taken

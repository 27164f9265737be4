"""The runbook of a phase transition, derived from two Stack models (pure, never imports pulumi).

Steps come in a safe order (keep the live credentials, network policies and new Secrets, then
the components in phasestack.catalog's order: postgres, pgbouncer, redis, api, nginx,
monitoring; then verify), each with its commands and its risks;
the data-moving steps (read replicas, Redis standalone -> Cluster, adding Cluster masters) are
spelled out. Commands use $NS, the namespace
of the environment being moved, and never contain a credential: inside the pods redis-cli reads
REDISCLI_AUTH and psql uses the postgres role's local peer login.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from phasestack import catalog
from phasestack.model import Stack
from phasestack.plan import capacity
from phasestack.plan.checks import num
from phasestack.transitions import diff as diffing
from phasestack.transitions import stateless, steps, target
from phasestack.transitions.steps import Ctx

# the components' builders come from the catalog, in its (dependency) order
STEP_BUILDERS = (steps.credentials, steps.prepare, steps.immutable, *catalog.step_builders(),
                 stateless.verify)
CONNECTION_CHECKS = ("client_connections", "db_server_connections", "postgres_budget")


@dataclass(frozen=True)
class Step:
    title: str
    component: str
    what: list[str]
    commands: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    moves_data: bool = False


@dataclass(frozen=True)
class Runbook:
    name_a: str
    name_b: str
    steps: list[Step]
    plan_a: capacity.Report
    plan_b: capacity.Report

    def formulas(self) -> list[tuple[str, str, str]]:
        """(check, formula of A, formula of B) for the connection checks."""
        a = {c.name: c.formula for c in self.plan_a.checks}
        b = {c.name: c.formula for c in self.plan_b.checks}
        return [(name, a[name], b[name]) for name in CONNECTION_CHECKS if name in a and name in b]


def runbook(stack_a: Stack, stack_b: Stack, name_a: str = "a", name_b: str = "b",
            d: diffing.Diff | None = None) -> Runbook:
    d = d or diffing.diff(stack_a, stack_b, name_a, name_b)
    ctx = Ctx(stack_a, stack_b, name_a, name_b, d)
    # a move between a Docker host and Kubernetes is its own runbook: kubectl steps over a
    # Docker host would be wrong (issue 12)
    builders = (target.target,) if stack_a.target != stack_b.target else STEP_BUILDERS
    steps = _migration_first([Step(**s) for build in builders for s in build(ctx)])
    return Runbook(name_a, name_b, steps, capacity.plan(stack_a, name_a),
                   capacity.plan(stack_b, name_b))


def _rolls_app(step: Step) -> bool:
    """It applies (or scales, or waits for) the API or a worker; a delete (the immutable
    field's orphaning delete) rolls nothing."""
    return any(f"component={c}" in cmd or "deployment/api" in cmd
               for cmd in step.commands if not cmd.startswith("kubectl delete")
               for c in ("api", "worker"))


def _migration_first(steps: list[Step]) -> list[Step]:
    """A new migration runs before the first step that rolls the API or a worker (a data
    step re-applies them for their new URLs): the new code must find the migrated schema. A
    PostgreSQL move runs it itself, between the restore and the rollout."""
    at = next((i for i, s in enumerate(steps) if s.title == stateless.MIGRATION_STEP), None)
    first = next((i for i, s in enumerate(steps) if _rolls_app(s)), None)
    if at is None or first is None or first > at:
        return steps
    if steps[first].component == "postgres" and steps[first].moves_data:
        return [s for i, s in enumerate(steps) if i != at]
    return [*steps[:first], steps[at], *[s for i, s in enumerate(steps[first:], first)
                                         if i != at]]


def _verdicts(rb: Runbook) -> list[tuple[str, capacity.Report]]:
    return [(rb.name_a, rb.plan_a), (rb.name_b, rb.plan_b)]


def _breaks(r: capacity.Report) -> str:
    b = r.breaks_at
    return (f"first to break: {b['component']} ({b['check']}) at ~{b['users']:,} users"
            if b else "no load-bound check")


def text(rb: Runbook) -> str:
    lines = [f"runbook {rb.name_a} -> {rb.name_b}", "", "capacity:"]
    for name, r in _verdicts(rb):
        fails = [c.name for c in r.checks if c.status != capacity.PASS]
        extra = f" ({', '.join(fails)})" if fails else ""
        lines.append(f"  {name}: {r.verdict}{extra}; {r.users:,} users, {num(r.peak_rps)} peak "
                     f"rps; {_breaks(r)}")
    lines += ["", "connection formulas (planner):"]
    for check, fa, fb in rb.formulas():
        lines += [f"  {check}", f"    {rb.name_a}: {fa}", f"    {rb.name_b}: {fb}"]
    for i, step in enumerate(rb.steps, 1):
        tag = " [moves data]" if step.moves_data else ""
        lines += ["", f"{i}. {step.title}{tag}"]
        lines += [f"   {w}" for w in step.what]
        lines += [f"   $ {cmd}" for cmd in step.commands]
        lines += [f"   risk: {r}" for r in step.risks]
    return "\n".join(lines)


def markdown(rb: Runbook) -> str:
    lines = [f"## Runbook `{rb.name_a}` → `{rb.name_b}`", "", "| stack | verdict | users | "
             "peak rps | first to break |", "|---|---|---|---|---|"]
    for name, r in _verdicts(rb):
        lines.append(f"| `{name}` | **{r.verdict}** | {r.users:,} | {num(r.peak_rps)} | "
                     f"{_breaks(r)} |")
    lines += ["", "Connection formulas (planner):", "", f"| check | `{rb.name_a}` | "
              f"`{rb.name_b}` |", "|---|---|---|"]
    lines += [f"| {c} | `{fa}` | `{fb}` |" for c, fa, fb in rb.formulas()]
    lines += ["", "Commands use `$NS`, the namespace of the environment being moved."]
    for i, step in enumerate(rb.steps, 1):
        tag = " (moves data)" if step.moves_data else ""
        lines += ["", f"### {i}. {step.title}{tag}", ""]
        lines += [f"- {w}" for w in step.what]
        if step.commands:
            lines += ["", "```sh", *step.commands, "```"]
        if step.risks:
            lines += ["", "Risks:", ""] + [f"- {r}" for r in step.risks]
    return "\n".join(lines)


def as_json(rb: Runbook) -> dict:
    return {"from": rb.name_a, "to": rb.name_b,
            "capacity": {name: {"verdict": r.verdict, "users": r.users, "peak_rps": r.peak_rps,
                                "breaks_at": r.breaks_at} for name, r in _verdicts(rb)},
            "formulas": [{"check": c, "from": a, "to": b} for c, a, b in rb.formulas()],
            "steps": [asdict(s) for s in rb.steps]}


def report(stack_a: Stack, stack_b: Stack, name_a: str, name_b: str, fmt: str = "text") -> str:
    """The diff and the runbook together, as `phasestack diff` prints them."""
    d = diffing.diff(stack_a, stack_b, name_a, name_b)
    rb = runbook(stack_a, stack_b, name_a, name_b, d)
    if fmt == "json":
        return json.dumps({"diff": diffing.as_json(d), "runbook": as_json(rb)}, indent=2)
    if fmt == "markdown":
        return f"{diffing.markdown(d)}\n\n{markdown(rb)}\n"
    return f"{diffing.text(d)}\n\n{text(rb)}\n"


FORMATS = ("text", "markdown", "json")

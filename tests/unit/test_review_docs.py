"""docs/reviews.md's planner column is the planner's own output, never typed (issue 12 item
13: it said PASS and figures the planner no longer printed).

Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_review_docs.py
"""

from __future__ import annotations

import os
import re

from phasestack.paths import paths, planner_cell
from phasestack.plan.capacity import plan
from phasestack.stackfile import load, project_root

ROOT = project_root()
DOC = ROOT / "docs" / "reviews.md"
ROW = re.compile(r"^\| `(?P<name>[a-z0-9-]+)` \| (?P<what>.*) \| (?P<planner>[^|]*) \|$")


def expected_rows() -> dict[str, str]:
    return {name: planner_cell(plan(load(name, ROOT).stack, name))
            for names in paths(ROOT).values() for name in names}


def test_every_path_step_has_the_planners_own_cell():
    want = expected_rows()
    lines = DOC.read_text().splitlines()
    seen = {}
    for i, line in enumerate(lines):
        m = ROW.match(line)
        if m and m["name"] in want:
            seen[m["name"]] = m["planner"]
            lines[i] = f"| `{m['name']}` | {m['what']} | {want[m['name']]} |"
    if os.environ.get("UPDATE_GOLDEN"):
        DOC.write_text("\n".join(lines) + "\n")
        seen = {n: want[n] for n in seen}
    assert set(seen) == set(want), f"steps without a row: {set(want) - set(seen)}"
    wrong = {n: (seen[n], want[n]) for n in want if seen[n] != want[n]}
    assert not wrong, f"planner column differs (UPDATE_GOLDEN=1 regenerates it): {wrong}"


# --- the Claims prose ----------------------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    """Every number in `text`, commas dropped ("12,000" -> "12000", "7.8M" -> "7.8")."""
    return {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)}


def claims_blocks() -> dict[str, str]:
    """Review number -> the text of its Claims bullets (from "Claim" to the next blank line)."""
    blocks, review, lines = {}, None, DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        if m := re.match(r"^## (\d{3}): ", line):
            review = m.group(1)
        if review and line.startswith("Claim"):
            end = next(j for j in range(i, len(lines) + 1) if j == len(lines) or not lines[j])
            blocks[review] = " ".join(lines[i:end])
    return blocks


def connection_s(stack) -> float:
    """Seconds a request holds a database connection: queries x query time."""
    return stack.app.db_queries_per_request * stack.app.query_ms / 1000


def planner_figures() -> dict[str, list[float]]:
    """The figures the Claims prose may state besides the review's own: each computed here
    by the planner, with the same variants test_review_claims.py checks."""
    from tests.unit import test_review_claims as rc
    briv_stack = rc.brivara_as_reviewed()
    briv = plan(briv_stack)
    pod_rps = load("brivara-phase1", ROOT).stack.app.pod_rps
    users_per_rps = 10_000 / 250  # review 000: 10K users at ~250 peak rps
    zero = plan(rc.zeropay_original())
    pix_stack = rc.pixecom_before()
    pix = plan(pix_stack)
    pix_default_stack = rc.pixecom_before(app={"query_ms": 10})
    pix_default = plan(pix_default_stack)
    prime = plan(load("primetrade-mvp", ROOT).stack)
    phase2 = load("brivara-phase2", ROOT).stack
    fast = dict(api={"replicas": 1, "hpa": {"enabled": False}}, app={"app_pool_per_pod": 20},
                pgbouncer={"enabled": False}, load={"peak_rps": 166})

    def db_limit(report):
        return rc.check(report, "db_server_connections").limit_rps

    def busy(report):  # "... = 33.3 <= pool": the connections busy at once
        return float(re.search(r"= ([\d.]+) <=", rc.check(
            report, "db_server_connections").formula).group(1))

    return {
        "000": [plan(rc.variant("brivara-mvp", api={"replicas": 1})).breaks_at["users"],
                briv.first_limit["users"],
                # pod_rps that would carry exactly the review's 12,000 users on 4 pods at 70%
                int(12_000 / users_per_rps / 4 / 0.7),
                # the API instances' pools alone: connection_limit=50 x 4 instances
                briv_stack.api.replicas * briv_stack.app.app_pool_per_pod,
                float(re.search(r"= (\d+): false$",
                                rc.check(briv, "client_connections").formula).group(1)),
                briv.first_limit["peak_rps"],
                round(briv.first_limit["peak_rps"] / (250 / 81) * 86_400 / 1e6, 1),
                phase2.api.hpa.max_replicas, pod_rps],
        "002": [busy(zero), db_limit(plan(rc.variant("zeropay-mvp", **fast))),
                round(20 / (166 * 2) * 1000),
                round(rc.users_at(plan(rc.variant("zeropay-mvp", redis={"maxmemory_mb": 256})),
                                  "redis_memory")),
                round(rc.users_at(plan(load("zeropay-mvp", ROOT).stack), "redis_memory"))],
        "003": [db_limit(pix), round(db_limit(pix) * rc.report_latency_s(pix)),
                connection_s(pix_stack),  # B6's 0.1 s of connection time per request
                rc.report_latency_s(pix), round(pix.breaks_at["peak_rps"]
                                               * rc.report_latency_s(pix)),
                round(db_limit(pix_default) * rc.report_latency_s(pix_default)),
                busy(plan(rc.pixecom_before(load={"peak_rps": 500}))),
                1000 * connection_s(pix_default_stack)],  # the default 20 ms
        "004": [prime.breaks_at["users"],
                *(round(u / users_per_rps / 3 / 0.7) for u in (1_500, 3_000))],
    }


def shown(value: float) -> set[str]:
    """How the prose may print a figure: as is, rounded, or in thousands ("7.8M" -> 7.8)."""
    return {f"{value:g}", f"{round(value):d}", f"{value:.1f}"}


def test_claims_prose_numbers_are_the_reviews_or_the_planners():
    """Issue 12 item 13: every number in docs/reviews.md's Claims is either quoted from the
    review file or one of the planner's figures computed above, never typed by hand."""
    blocks = claims_blocks()
    figures = planner_figures()
    assert set(blocks) == set(figures), (set(blocks), set(figures))
    for review, text in blocks.items():
        quoted = numbers((ROOT / "docs" / "scaling-reviews").joinpath(
            next(p.name for p in (ROOT / "docs" / "scaling-reviews").glob(f"{review}_*.txt"))
        ).read_text())
        computed = set().union(*(shown(float(v)) for v in figures[review]))
        stray = sorted(numbers(text) - quoted - computed, key=float)
        assert not stray, f"review {review}: numbers neither in the review nor computed: {stray}"

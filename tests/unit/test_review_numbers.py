"""Numbers a review states, read from the review file itself and compared with what the stack
renders (issue 12 item 13: the render contradicted review 000's login route and error-rate
alert, and review 002's RPS threshold). A number typed into a stack that no longer matches the
review, or a render that drops it, fails here."""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from phasestack.paths import REVIEWS
from phasestack.plan.checks import pool_clients
from phasestack.stackfile import load, project_root
from phasestack.synth import monitoring, nginx

ROOT = project_root()
# a copy of ../shared/scaling-reviews/ kept with the code, so these checks always run
REVIEW_DIR = ROOT / "docs" / "scaling-reviews"


def review(rid: str) -> str:
    return (REVIEW_DIR / REVIEWS[rid].file).read_text()


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"the review no longer says {pattern!r}"
    return match.group(1)


def alerts(name: str) -> dict[str, dict]:
    rules = yaml.safe_load(monitoring.alert_rules(load(name, ROOT).stack))
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"]}


@pytest.mark.parametrize("name", ["brivara-mvp", "brivara-phase1", "brivara-phase2"])
def test_000_auth_limit_covers_the_apps_login_route(name):
    text = review("000")
    base = found(r"const BASE_URL = '([^']+)'", text)
    login = urlparse(base).path + found(r"\$\{BASE_URL\}(/auth/login)", text)
    assert login == "/api/auth/login"
    stack = load(name, ROOT).stack
    assert login.startswith(stack.nginx.auth_path)
    assert f"location {stack.nginx.auth_path} {{" in nginx.nginx_conf(stack)


@pytest.mark.parametrize("name", ["brivara-phase1", "brivara-phase2"])
def test_000_error_rate_alert_is_the_reviews(name):
    share = int(found(r"Configure alerts for >(\d+)% error rate", review("000"))) / 100
    assert load(name, ROOT).stack.monitoring.error_rate_critical == share
    assert alerts(name)["ApiErrorRateCritical"]["expr"].strip().endswith(f"> {share:g}")


def test_002_rps_alert_is_the_reviews():
    rps = int(found(r"\| \*\*RPS\*\* \| - \| > ([\d,]+) \|", review("002")).replace(",", ""))
    expr = alerts("zeropay-phase3")["NginxRequestRateCritical"]["expr"]
    assert expr.endswith(f"> {rps}")
    # the phase3 preset's own threshold (90% of the API ceiling) is not the review's
    assert not alerts("phase3")["NginxRequestRateCritical"]["expr"].strip().endswith(f"> {rps}")


def test_002_error_rate_alert_is_the_reviews_by_default():
    warning, critical = (float(x) / 100 for x in re.search(
        r"\| \*\*Error rate\*\* \| > ([\d.]+)% \| > ([\d.]+)% \|", review("002")).groups())
    rules = alerts("zeropay-phase3")
    assert rules["ApiErrorRateWarning"]["expr"].strip().endswith(f"> {warning:g}")
    assert rules["ApiErrorRateCritical"]["expr"].strip().endswith(f"> {critical:g}")


def test_001_pgbouncer_takes_every_client_after_losing_a_pod():
    """ecobottle-phase3's comment claims the PgBouncer pods left after losing one still take
    every client; the claim's numbers are read from the comment and checked by the planner's
    own count (issue 12: it said 4,000 where the planner counts 4,200 with the workers)."""
    path = ROOT / "stacks" / "Pulumi.ecobottle-phase3.yaml"
    comment = stack_comments(path)
    clients, left, each, total = (int(x.replace(",", "")) for x in re.search(
        r"= ([\d,]+) clients; the (\d) pods left after losing one take \d x ([\d,]+) = "
        r"([\d,]+)", comment).groups())
    stack = load("ecobottle-phase3", ROOT).stack
    pods, _ = pool_clients(stack)
    assert clients == pods * stack.app.app_pool_per_pod
    assert (left, each) == (stack.pgbouncer.replicas - 1, stack.pgbouncer.max_client_conn)
    assert total == left * each >= clients


def test_review_copies_are_the_shared_reviews():
    assert {p.name for p in Path(REVIEW_DIR).glob("*.txt")} == {r.file for r in REVIEWS.values()}
    shared = ROOT.parent / "shared" / "scaling-reviews"
    for r in REVIEWS.values():  # where the shared originals exist, the copies match them
        if (shared / r.file).exists():
            assert (shared / r.file).read_text() == (REVIEW_DIR / r.file).read_text()


@pytest.mark.parametrize(("name", "pattern"), [
    ("brivara-phase1", r"\(4 instances \+ 1 queue worker\) x 50 = ([\d,]+) clients"),
    ("brivara-phase2", r"\(8 API pods \+ 1 worker pod\) x 50 = ([\d,]+) clients"),
    ("ecobottle-phase2", r"20 API pods x maxPoolSize 100 = ([\d,]+) clients"),
])
def test_client_counts_in_stack_comments_are_the_planners(name, pattern):
    """Client counts typed into stack comments, read back and compared with the planner's
    own count (API pods at their ceiling plus worker pods, each with its pool)."""
    comment = stack_comments(ROOT / "stacks" / f"Pulumi.{name}.yaml")
    stated = int(found(pattern, comment).replace(",", ""))
    stack = load(name, ROOT).stack
    pods, _ = pool_clients(stack)
    assert stated == pods * stack.app.app_pool_per_pod


def test_postgres_budget_in_brivara_phase2_comment_is_the_planners():
    from phasestack.plan.capacity import plan
    comment = stack_comments(ROOT / "stacks" / "Pulumi.brivara-phase2.yaml")
    stated = int(found(r"\+ 5 fixed = (\d+) of max_connections", comment))
    budget = next(c for c in plan(load("brivara-phase2", ROOT).stack).checks
                  if c.name == "postgres_budget")
    assert budget.formula.endswith(f"= {stated} <= max_connections 200")


SIZING = re.compile(r"([\d,]+) rps / \((?:pod_rps )?([\d.]+) x (\d+)%(?: CPU target)?\) = "
                    r"([\d.]+) -> (ceiling )?(\d+)")


def stack_comments(path: Path) -> str:
    return " ".join(line.strip().lstrip("# ") for line in path.read_text().splitlines()
                    if line.strip().startswith("#"))


def test_hpa_sizing_in_stack_comments_is_the_stacks_own_arithmetic():
    """Issue 12 item 13: "500 rps / (100 x 70%) = 7.1 -> 8 pods" in a stack comment is read
    back: the rps is the stack's peak, the divisor its pod_rps and CPU target, the quotient and
    the pods the arithmetic's, the pods within the HPA's ceiling."""
    seen = {}
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        for m in SIZING.finditer(stack_comments(path)):
            rps, pod_rps, pct, quotient = (float(g.replace(",", "")) for g in m.groups()[:4])
            ceiling, pods = m.group(5), int(m.group(6))
            stack = load(path.name.removeprefix("Pulumi.").removesuffix(".yaml"), ROOT).stack
            where = f"{path.name}: {m.group(0)!r}"
            assert rps == stack.load.effective_peak_rps, where
            assert (pod_rps, pct) == (stack.app.pod_rps, stack.api.hpa.cpu_target), where
            need = rps / (pod_rps * pct / 100)
            assert quotient == round(need, 1), where
            if ceiling:  # "-> ceiling N": the HPA's maximum, at least what the load needs
                assert pods == stack.api.hpa.max_replicas >= math.ceil(need), where
            else:
                assert pods == math.ceil(need) <= stack.api.hpa.max_replicas, where
            seen[path.name] = pods
    assert len(seen) == 6, seen  # every stack that states its HPA sizing was read

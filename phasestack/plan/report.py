"""Formatting of planner reports: table, markdown, json (pure)."""

from __future__ import annotations

import json

from phasestack.plan.capacity import Report
from phasestack.plan.checks import num


def _rows(report: Report) -> list[tuple[str, str, str, str]]:
    return [(c.status, c.name, c.reason, c.formula) for c in report.checks]


def _breaks(report: Report) -> str:
    b = report.breaks_at
    if not b:
        return "no load-bound check"
    if b.get("now"):
        return (f"already broken: {b['component']} ({b['check']}) at this stack's own "
                f"{num(b['peak_rps'])} peak rps ~ {b['users']:,} users; {b['remedy']}")
    return (f"first to break: {b['component']} ({b['check']}) at {num(b['peak_rps'])} peak rps "
            f"~ {b['users']:,} users; then {b['remedy']}")


def _notified(report: Report) -> list[tuple[str, str]]:
    """(severity, who it reaches), once per severity the rules use."""
    return list(dict.fromkeys((a["severity"], a["notifies"]) for a in report.alerts))


def _calibrated(report: Report) -> list[str]:
    c = report.calibration
    if not c:
        return []
    return [f"calibration: {c['file']} (measured on {c['machine']}): "
            + ("; ".join(c["taken"]) or "no figure this stack uses")]


def table(report: Report) -> str:
    head = (f"stack {report.stack or '-'} (phase {report.phase}): {report.users:,} users, "
            f"{num(report.peak_rps)} peak rps -> {report.verdict}")
    figs = "  ".join(f"{k}={v:g}" for k, v in report.figures.items())
    width = max(len(c.name) for c in report.checks)
    lines = [head, f"figures: {figs}", *_calibrated(report), ""]
    for status, name, reason, formula in _rows(report):
        lines.append(f"{status:<4}  {name:<{width}}  {reason}")
        lines.append(f"{'':<4}  {'':<{width}}  {formula}")
    lines += ["", _breaks(report)]
    if report.recovery:
        width = max(len(f"{c.component} {c.name}") for c in report.recovery)
        lines += ["", "recovery (review 001: RPO < 15 min, RTO < 1 h):"]
        for c in report.recovery:
            lines.append(f"{c.status:<4}  {c.component + ' ' + c.name:<{width}}  {c.reason}")
            lines.append(f"{'':<4}  {'':<{width}}  {c.formula}")
    if report.alerts:
        width = max(len(a["alert"]) for a in report.alerts)
        lines += ["", "alerts (the rules Prometheus loads; each fires at, and guards):"]
        lines += [f"{a['severity']:<8}  {a['alert']:<{width}}  {a['fires']}  <- {a['guards']}"
                  for a in report.alerts]
        lines += [f"{severity:<8}  notifies {who}" for severity, who in _notified(report)]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    lines = [f"### Capacity plan: `{report.stack or '-'}` ({report.phase}) — **{report.verdict}**",
             "", f"{report.users:,} users, {num(report.peak_rps)} peak rps. {_breaks(report)}.",
             *[f"\n{line}" for line in _calibrated(report)],
             "", "| status | check | reason | formula |", "|---|---|---|---|"]
    for status, name, reason, formula in _rows(report):
        lines.append(f"| {status} | {name} | {reason} | `{formula}` |")
    if report.recovery:
        lines += ["", "| recovery | store | reason | formula |", "|---|---|---|---|"]
        lines += [f"| {c.status} {c.name} | {c.component} | {c.reason} | `{c.formula}` |"
                  for c in report.recovery]
    if report.alerts:
        lines += ["", "| alert | severity | fires at | guards |", "|---|---|---|---|"]
        lines += [f"| {a['alert']} | {a['severity']} | {a['fires']} | {a['guards']} |"
                  for a in report.alerts]
        lines += [""] + [f"A {severity} alert notifies {who}." for severity, who
                         in _notified(report)]
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2)


FORMATS = {"table": table, "markdown": markdown, "json": as_json}

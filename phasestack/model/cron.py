"""Kubernetes CronJob schedules (five fields: minute hour day-of-month month day-of-week, in
UTC unless timeZone is set): checked when the stack loads, not when the API server refuses the
CronJob, and measured for the planner (the longest wait between two runs bounds what a lost
volume loses)."""


MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
          "@annually": "0 0 1 1 *"}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 7))
DAY, WEEK = 1440, 7 * 1440


def _values(expr: str, field: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for item in expr.split(","):
        span, _, step = item.partition("/")
        try:
            first, last = ((lo, hi) if span == "*" else
                           (int(span.split("-")[0]), int(span.split("-")[-1])))
            every = int(step) if step else 1
        except ValueError:
            first = last = every = -1
        if step and span.isdigit():  # N/step: from N to the field's end (robfig/cron)
            last = hi
        if span.count("-") > 1 or not lo <= first <= last <= hi or every < 1:
            raise ValueError(f"{field} {item!r} is not *, a number, a range or a step "
                             f"within {lo}-{hi}")
        out.update(range(first, last + 1, every))
    return out


def parse(schedule: str) -> tuple[set[int], ...]:
    """The five fields as sets of values; ValueError with the field that is wrong."""
    fields = MACROS.get(schedule, schedule).split()
    if len(fields) != len(FIELDS):
        raise ValueError(f"schedule {schedule!r}: five fields (minute hour day-of-month month "
                         "day-of-week) or a macro such as @hourly")
    try:
        return tuple(_values(f, *spec) for f, spec in zip(fields, FIELDS, strict=True))
    except ValueError as e:
        raise ValueError(f"schedule {schedule!r}: {e}") from None


def max_gap_minutes(schedule: str) -> int | None:
    """The longest wait between two runs, in minutes; None when the days of the month or the
    months are restricted (then it is a day or more, depending on the calendar)."""
    minutes, hours, _, _, _ = parse(schedule)
    fields = MACROS.get(schedule, schedule).split()
    if fields[2] != "*" or fields[3] != "*":
        return None
    days = {d % 7 for d in parse(schedule)[4]} if fields[4] != "*" else set(range(7))
    runs = sorted(d * DAY + h * 60 + m for d in days for h in hours for m in minutes)
    return max(b - a for a, b in zip(runs, [*runs[1:], runs[0] + WEEK], strict=True))

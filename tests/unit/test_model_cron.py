"""CronJob schedules: checked at load, and the longest gap between runs (the planner's RPO)."""

from __future__ import annotations

import pytest

from phasestack.model import cron


@pytest.mark.parametrize(("schedule", "gap"), [
    ("*/10 * * * *", 10), ("0 * * * *", 60), ("@hourly", 60), ("0 3 * * *", 1440),
    ("15,45 */2 * * *", 90), ("5/20 * * * *", 20), ("0 3 * * 1", 7 * 1440),
    ("0 9-17 * * 1-5", 3 * 1440 - 8 * 60), ("0 0 1 * *", None), ("0 0 * 2 *", None),
])
def test_max_gap_minutes(schedule, gap):
    assert cron.max_gap_minutes(schedule) == gap


@pytest.mark.parametrize(("schedule", "message"), [
    ("*/0 * * * *", "schedule '*/0 * * * *': minute '*/0' is not *, a number, a range or a "
                    "step within 0-59"),
    ("0 24 * * *", "schedule '0 24 * * *': hour '24' is not *, a number, a range or a step "
                   "within 0-23"),
    ("0 0 * * MON", "schedule '0 0 * * MON': day of week 'MON' is not *, a number, a range or "
                    "a step within 0-7"),
    ("10-5 * * * *", "schedule '10-5 * * * *': minute '10-5' is not *, a number, a range or a "
                     "step within 0-59"),
    ("* * * *", "schedule '* * * *': five fields (minute hour day-of-month month day-of-week) "
                "or a macro such as @hourly"),
])
def test_refused_with_exact_messages(schedule, message):
    with pytest.raises(ValueError) as exc:
        cron.parse(schedule)
    assert str(exc.value) == message

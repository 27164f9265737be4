"""The capacity planner: checks, the plan and its report (pure)."""

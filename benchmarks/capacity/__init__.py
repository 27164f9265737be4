"""Capacity benchmarks: the figures the planner assumes, measured on real servers started with
the configs phasestack renders (`python -m benchmarks.capacity`). A benchmark: it prints what
it measured, it never fails on a number."""

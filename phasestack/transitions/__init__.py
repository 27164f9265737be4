"""Phase transitions: the diff of two stacks and the runbook's step builders (pure)."""

"""phasestack's errors: bad input, never bugs (issue 13). The CLI maps every PhasestackError
to `error: ...` lines and exit code 2 in one place (cli.Cli); any other exception is a bug and
keeps its traceback."""

from __future__ import annotations


class PhasestackError(Exception):
    """Bad input (a stack file, a flag, the environment): one message per problem, each naming
    the file and the key, the flag or the variable."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StackError(PhasestackError):
    """A stack file that does not load or validate."""


class TargetError(PhasestackError, ValueError):
    """--out names a directory render must not replace (or cannot read)."""


class CredentialError(PhasestackError, ValueError):
    """A supplied credential that cannot go into a connection URL."""


class ShapeError(PhasestackError, ValueError):
    """A valid stack that a target or output format cannot render (e.g. --format compose of a
    Redis Cluster)."""

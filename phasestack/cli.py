"""The phasestack command line. Never imports pulumi (DESIGN.md layer 6)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from phasestack.errors import PhasestackError, ShapeError, StackError
from phasestack.plan import alerts, capacity, report
from phasestack.stackfile import list_stack_files, load

BAD_INPUT = 2


class Cli(click.Group):
    """The one place errors become exit codes: bad input (PhasestackError) is `error: ...` on
    stderr and exit 2; anything else is a bug and keeps its traceback (issue 13)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PhasestackError as err:
            for problem in err.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(BAD_INPUT)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phasestack")
def main() -> None:
    """Scaling roadmaps as checkable, renderable, deployable stacks.

    STACK is a stack name (stacks/Pulumi.<name>.yaml, relative to the current directory) or a
    path to a stack file.
    """


@main.command()
def stacks() -> None:
    """Table of every stack: phase, users, peak rps, capacity verdict."""
    paths = list_stack_files()
    if not paths:
        raise PhasestackError("no stacks/Pulumi.*.yaml here; run from the project root")
    rows, problems = [], []
    for path in paths:
        try:
            loaded = load(path)
        except StackError as err:
            problems.extend(err.problems)
            continue
        r = capacity.plan(loaded.stack, loaded.name)
        rows.append((loaded.name, loaded.stack.phase, f"{r.users:,}", f"{r.peak_rps:,.1f}",
                     r.verdict))
    head = ("STACK", "PHASE", "USERS", "PEAK RPS", "VERDICT")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if problems:
        raise StackError(problems)


def _calibrated(stack, path: Path):
    """(stack with the measured figures in `path`, the report's calibration field)."""
    from phasestack.plan import calibration  # its models are built only when a file is given

    measured = calibration.read(path)
    model, taken = calibration.apply(stack, measured)
    return model, {"file": str(path), "machine": measured.machine, "taken": taken}


@main.command()
@click.argument("stack")
@click.option("--format", "fmt", type=click.Choice(sorted(report.FORMATS)), default="table",
              show_default=True)
@click.option("--calibration", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Measured capacities (python -m benchmarks.capacity --json FILE) in place "
                   "of the defaults; what the stack file sets itself stays.")
def plan(stack: str, fmt: str, calibration: Path | None) -> None:
    """Capacity check of STACK against its load target; exit 1 on any capacity FAIL (the
    recovery section, what survives what, is reported apart and does not change it)."""
    try:
        loaded = load(stack)
        model, measured = (_calibrated(loaded.stack, calibration) if calibration
                           else (loaded.stack, None))
    except PhasestackError as err:
        if fmt == "json":  # CI parses stdout: a refused stack is still JSON, an error object
            click.echo(json.dumps({"error": "bad input", "problems": err.problems}, indent=2))
        raise
    r = replace(capacity.plan(model, loaded.name), alerts=alerts.guards(model),
                calibration=measured)
    click.echo(report.FORMATS[fmt](r))
    sys.exit(1 if r.verdict == capacity.FAIL else 0)


@main.command()
@click.argument("stack_refs", metavar="[STACK...]", nargs=-1)
def validate(stack_refs: tuple[str, ...]) -> None:
    """Validate stack files (all of stacks/ when none given); exit 2 on any problem."""
    from phasestack.plan.notes import notes

    refs = list(stack_refs) or [str(p) for p in list_stack_files()]
    if not refs:
        raise PhasestackError("no stacks/Pulumi.*.yaml here; run from the project root")
    problems = []
    for ref in refs:
        try:
            loaded = load(ref)
            click.echo(f"ok  {loaded.name} ({loaded.path})")
            for note in notes(loaded.stack):
                click.echo(f"    note: {note}")
        except StackError as err:
            problems.extend(err.problems)
    if problems:
        raise StackError(problems)


@main.command()
def schema() -> None:
    """JSON Schema of a stack file (config: with phasestack:-namespaced keys)."""
    from phasestack.schema import file_schema

    click.echo(json.dumps(file_schema(), indent=2, sort_keys=True))


@main.command()
@click.argument("stack")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write (replaced atomically).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print manifests, without Secrets.")
@click.option("--format", "fmt", type=click.Choice(["kubernetes", "compose"]),
              default="kubernetes", show_default=True)
def render(stack: str, out: Path | None, to_stdout: bool, fmt: str) -> None:
    """Render STACK's manifests (or docker-compose files) without a cluster.

    Secrets come from PHASESTACK_POSTGRES_PASSWORD, PHASESTACK_APP_PASSWORD,
    PHASESTACK_REPLICATION_PASSWORD, PHASESTACK_MONITOR_PASSWORD, PHASESTACK_REDIS_PASSWORD,
    PHASESTACK_REDIS_ADMIN_PASSWORD and PHASESTACK_GRAFANA_PASSWORD when set, else from
    OUT/secrets.yaml of an earlier render, else are generated; they go only to
    OUT/secrets.yaml (mode 0600, git-ignored). OUT must be new, empty, or an earlier render.
    """
    from phasestack.synth import secrets
    from phasestack.targets import kubernetes as rendering

    if (out is None) == (not to_stdout):
        raise PhasestackError("give exactly one of --out DIR or --stdout")
    loaded = load(stack)
    if out is not None:
        rendering.check_target(out)
    values = secrets.from_environment(
        previous=rendering.previous_credentials(out) if out is not None else None)
    if fmt == "compose":
        from phasestack.targets import docker as compose

        try:
            texts = compose.compose_files(loaded.stack)
        except ShapeError as exc:
            raise ShapeError(f"{loaded.path}: --format compose: {exc}") from None
        if to_stdout:
            click.echo(texts["docker-compose.yml"], nl=False)
        else:
            _write(out, lambda: rendering.write_texts(out, texts))
            click.echo(f"wrote {len(texts)} files to {out}")
        return
    docs = rendering.manifests(loaded.stack, values)
    from phasestack.synth.cnpg_operator import prerequisites

    needs = [f"prerequisite: {p}" for p in prerequisites(loaded.stack)]
    if to_stdout:
        click.echo(rendering.stdout_text(docs), nl=False)
        click.echo("# Secrets are not printed; use --out DIR (secrets.yaml, mode 0600)", err=True)
        for line in needs:
            click.echo(f"# {line}", err=True)
        return
    written = _write(out, lambda: rendering.write(out, docs))
    where = (f"Secrets in {out / rendering.SECRETS_FILE}, mode 0600"
             if any(d["kind"] == "Secret" for d in docs)
             else "no Secrets: credentials: existing, the team's")
    click.echo(f"wrote {len(docs)} manifests in {len(written)} files to {out} ({where})")
    for line in needs:
        click.echo(line)


def _write(out: Path, writer):
    """Run a render writer; an unwritable --out is bad input, not a traceback."""
    try:
        return writer()
    except OSError as exc:
        raise PhasestackError(f"--out {out}: cannot write: {exc.strerror}") from None


@main.command()
@click.argument("stack_a")
@click.argument("stack_b")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
def diff(stack_a: str, stack_b: str, fmt: str) -> None:
    """What changes from STACK_A to STACK_B, and the runbook to get there (no secret values)."""
    from phasestack.transitions import runbook

    a, b = load(stack_a), load(stack_b)
    click.echo(runbook.report(a.stack, b.stack, a.name, b.name, fmt), nl=False)


@main.command()
@click.argument("stack")
@click.option("--time", "when", required=True,
              help="Restore to this time (RFC 3339 with offset, e.g. 2026-12-04T09:30:00Z).")
@click.option("--into", default=None,
              help="Name of the new Cluster (default: <postgres>-restore).")
@click.option("--redis", "redis", is_flag=True,
              help="Redis instead: a bash script restoring the newest complete snapshot at or "
                   "before --time (redis.backup).")
def restore(stack: str, when: str, into: str | None, redis: bool) -> None:
    """Point-in-time recovery of STACK's CloudNativePG database: the runbook, then the new
    Cluster's manifest (kubectl apply it, or set recover_from in the stack file). With --redis,
    the script that restores its Redis from the snapshots in object storage."""
    from phasestack.targets.kubernetes import dump_all
    from phasestack.transitions import redis_restore
    from phasestack.transitions import restore as pitr

    loaded = load(stack)
    time = pitr.target_time(when)
    try:
        if redis:
            click.echo(redis_restore.script(loaded.stack, loaded.name, time), nl=False)
            return
        if loaded.stack.postgres.engine == "statefulset" and not into:
            click.echo(pitr.statefulset_runbook(loaded.stack, loaded.name, time), nl=False)
            return
        doc = pitr.cluster(loaded.stack, time, into)
    except PhasestackError as e:  # what the stack file lacks: name it
        raise PhasestackError(f"{loaded.path}: {e}") from None
    click.echo(pitr.runbook(loaded.stack, loaded.name, time, into), nl=False)
    click.echo(dump_all([doc]), nl=False)


@main.command("cnpg-operator")
def cnpg_operator() -> None:
    """Print the CloudNativePG operator's release manifest (vendored, version-pinned): the
    prerequisite of a rendered stack with postgres.engine: cloudnativepg
    (`phasestack cnpg-operator | kubectl apply --server-side -f -`)."""
    from phasestack.synth.cnpg_operator import manifest_text

    click.echo(manifest_text(), nl=False)


@main.command()
def paths() -> None:
    """Each scaling review's migration path: its stacks in order. A stack file that does not
    load is reported on stderr and left out; the others are still listed."""
    from phasestack import paths as review_paths

    skipped: list[str] = []
    found = review_paths.paths(skipped=skipped)
    click.echo(review_paths.paths_table(found))
    for problem in skipped:
        click.echo(f"skipped: {problem}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()


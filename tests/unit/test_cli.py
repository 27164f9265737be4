"""CLI through click's runner, from the project root."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasestack.cli import main

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_stacks_table():
    r = run("stacks")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].split() == ["STACK", "PHASE", "USERS", "PEAK", "RPS", "VERDICT"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["phase2"] == ["phase2", "phase2", "50,000", "833.0", "PASS"]
    assert rows["phase3"] == ["phase3", "phase3", "100,000", "1,666.0", "PASS"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_plan_formats(fmt):
    r = run("plan", "phase2", "--format", fmt)
    assert r.exit_code == 0
    if fmt == "json":
        data = json.loads(r.output)
        assert data["verdict"] == "PASS"
        assert {c["name"] for c in data["checks"]} >= {"api_throughput", "db_server_connections",
                                                       "client_connections", "redis_memory"}
    elif fmt == "markdown":
        assert r.output.startswith("### Capacity plan: `phase2` (phase2) — **PASS**")
        assert "| PASS | api_throughput |" in r.output
    else:
        assert "peak_rps 833.0 <= hpa_max 20 x pod_rps 100" in r.output
        assert "first to break: api (api_throughput) at 1,400.0 peak rps ~ 84,033 users" in r.output


def test_plan_exit_1_on_fail(tmp_path):
    f = tmp_path / "Pulumi.tight.yaml"
    f.write_text("config:\n  phasestack:phase: phase3\n  phasestack:pgbouncer: {enabled: false}\n")
    r = run("plan", str(f))
    assert r.exit_code == 1
    assert "FAIL  client_connections" in r.output


def test_plan_bad_input_exit_2_no_traceback(tmp_path):
    f = tmp_path / "Pulumi.bad.yaml"
    f.write_text("config:\n  phasestack:phase: phase2\n  phasestack:api: {hpa: {max_replica: 3}}\n")
    r = CliRunner().invoke(main, ["plan", str(f)])
    assert r.exit_code == 2
    assert r.output == (f"error: {f}: phasestack:api.hpa.max_replica: unknown key "
                        "(did you mean 'max_replicas'?)\n")
    assert "Traceback" not in r.output


def test_missing_stack_exit_2():
    r = CliRunner().invoke(main, ["plan", "phase22"])
    assert r.exit_code == 2
    assert "no stack named 'phase22' (did you mean 'phase2'?)" in r.output


def test_validate_all_and_some(tmp_path):
    r = run("validate")
    assert r.exit_code == 0
    assert "ok  phase3" in r.output
    bad = tmp_path / "Pulumi.x.yaml"
    bad.write_text("")
    r = CliRunner().invoke(main, ["validate", "phase1", str(bad)])
    assert r.exit_code == 2
    assert "ok  phase1" in r.output
    assert f"error: {bad}: the file is empty" in r.output


def test_schema_checks_real_stack_files():
    import jsonschema
    import yaml

    doc = json.loads(run("schema").output)
    config = doc["properties"]["config"]["properties"]
    assert {"phasestack:phase", "phasestack:api", "phasestack:postgresPassword"} <= set(config)
    pgb = doc["$defs"]["PgBouncer"]["properties"]
    assert pgb["default_pool_size"]["default"] == 25 and pgb["default_pool_size"]["description"]
    validator = jsonschema.Draft202012Validator(doc)
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path.name, [e.message for e in errors])
    broken = yaml.safe_load((ROOT / "tests/unit/broken/unknown_nested.yaml").read_text())
    assert [e.message for e in validator.iter_errors(broken)] == [
        "Additional properties are not allowed ('max_replica' was unexpected)"]


def test_paths_lists_each_review_in_order():
    r = run("paths")
    assert r.exit_code == 0
    rows = {line.split()[0]: line for line in r.output.splitlines()[1:]}
    assert set(rows) == {"000", "001", "002", "003", "004"}
    assert rows["002"].endswith("zeropay-mvp -> zeropay-phase2 -> zeropay-phase3")
    assert "002_f99052a1f9a0162e.txt" in rows["002"]


def test_cli_never_imports_pulumi():
    code = ("import sys; from click.testing import CliRunner; from phasestack.cli import main;"
            "r = CliRunner().invoke(main, ['plan', 'phase3']); assert r.exit_code == 0, r.output;"
            "r = CliRunner().invoke(main, ['render', 'phase3', '--stdout']);"
            "assert r.exit_code == 0, r.output;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_plan_json_of_a_refused_stack_is_an_error_object(tmp_path):
    """Issue 12: CI parses `plan --format json`; a stack the loader refuses still prints JSON
    (stdout) besides the error lines (stderr), and exits 2."""
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  phasestack:phase: phase9\n")
    result = subprocess.run([sys.executable, "-m", "phasestack.cli", "plan", str(bad),
                             "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    out = json.loads(result.stdout)
    assert out["error"] == "bad input"
    assert out["problems"] == [f"{bad}: phasestack:phase: must be one of mvp, phase1, phase2, "
                               "phase3, got 'phase9'"]
    assert result.stderr.startswith(f"error: {bad}: phasestack:phase:")


def test_paths_reports_a_broken_stack_and_carries_on(tmp_path, monkeypatch):
    """Issue 12 item 12: one unrelated broken stack file made `paths` fail."""
    (tmp_path / "stacks").mkdir()
    for name in ("zeropay-mvp", "zeropay-phase2"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(
            (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    (tmp_path / "stacks" / "Pulumi.wip.yaml").write_text("config:\n  phasestack:bogus: 1\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["paths"], catch_exceptions=False)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1].endswith("zeropay-mvp -> zeropay-phase2")
    wip = tmp_path / 'stacks' / 'Pulumi.wip.yaml'
    assert r.stderr == f"skipped: {wip}: phasestack:bogus: unknown key\n"


def test_schema_shows_each_components_real_defaults():
    """Issue 12 item 12: the schema showed generic Resources defaults for every component."""
    schema = json.loads(run("schema").output)
    redis = schema["$defs"]["Redis"]["properties"]["resources"]["default"]
    assert redis == {"cpu_request": "250m", "cpu_limit": "1", "memory_request": "2560Mi",
                     "memory_limit": "2560Mi"}
    api = schema["properties"]["config"]["properties"]["phasestack:api"]["default"]
    assert api["resources"]["memory_limit"] == "512Mi" and api["port"] == 9898


def test_validate_refuses_what_the_docker_target_cannot_render(tmp_path):
    """Issue 13: validate passed a docker stack that render --format compose and pulumi up
    then refused (the latter with a bare ValueError); the rule is the model's now."""
    f = tmp_path / "Pulumi.onebox.yaml"
    f.write_text("config:\n  phasestack:target: docker\n"
                 "  phasestack:pgbouncer: {enabled: true}\n")
    for args in (["validate", str(f)], ["render", str(f), "--format", "compose", "--stdout"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, r.output
        assert f"error: {f}: " in r.output, r.output
        assert ("target: docker renders the MVP shape; this stack also has: pgbouncer (use "
                "target: kubernetes)") in r.output, r.output
        assert "Traceback" not in r.output


def test_a_bug_is_not_reported_as_bad_input(monkeypatch):
    """Issue 13: one place maps errors to exit codes; only phasestack's own errors are bad
    input (exit 2), a ValueError from a bug keeps its traceback."""
    from phasestack.plan import capacity

    def broken(*_args, **_kw):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(capacity, "plan", broken)
    r = CliRunner().invoke(main, ["plan", "phase1"])
    assert r.exit_code == 1 and isinstance(r.exception, ValueError), r.output
    assert "error: " not in r.output

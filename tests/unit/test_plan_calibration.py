"""`phasestack plan --calibration FILE`: measured capacities in place of the defaults."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasestack.cli import main
from phasestack.errors import PhasestackError
from phasestack.plan import calibration
from phasestack.stackfile import load

ROOT = Path(__file__).parents[2]
MACHINE = "2 x Test CPU, 8 GiB, Linux 6"


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def write(tmp_path, data) -> Path:
    f = tmp_path / "calibration.json"
    f.write_text(data if isinstance(data, str) else json.dumps(data))
    return f


def measured(**figures) -> dict:
    return {"machine": MACHINE, "stack": "phase2", "figures": figures}


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_read_takes_the_benchmarks_keys(tmp_path):
    cal = calibration.read(write(tmp_path, measured(**{
        "nginx.rps_per_replica": 9876.5, "redis.ops_per_master.standalone": 120000,
        "redis.ops_per_master.cluster": 110000})))
    assert cal.machine == MACHINE
    assert (cal.figures.nginx_rps_per_replica, cal.figures.redis_ops_standalone,
            cal.figures.redis_ops_cluster) == (9876.5, 120000, 110000)


@pytest.mark.parametrize(("data", "problems"), [
    ('{"machine": "m",', ["not JSON: Expecting property name enclosed in double quotes: "
                          "line 1 column 17 (char 16)"]),
    ({"figures": {}}, ["machine: Field required"]),
    (measured(**{"nginx.rps_per_replica": -1, "redis.ops": 3}),
     ["figures.nginx.rps_per_replica: Input should be greater than 0 (got -1)",
      "figures.redis.ops: Extra inputs are not permitted (got 3)"]),
    ({**measured(), "machine": ""},
     ["machine: String should have at least 1 character (got '')"]),
])
def test_bad_file_names_the_file_and_key(tmp_path, data, problems):
    f = write(tmp_path, data)
    with pytest.raises(PhasestackError) as err:
        calibration.read(f)
    assert err.value.problems == [f"{f}: {p}" for p in problems]


def test_missing_file(tmp_path):
    with pytest.raises(PhasestackError) as err:
        calibration.read(tmp_path / "none.json")
    assert err.value.problems == [f"{tmp_path / 'none.json'}: cannot read: "
                                  "No such file or directory"]


def test_apply_replaces_defaults_by_the_stacks_redis_mode(tmp_path):
    cal = calibration.read(write(tmp_path, measured(**{
        "nginx.rps_per_replica": 9000, "redis.ops_per_master.standalone": 120000,
        "redis.ops_per_master.cluster": 110000})))
    phase1, phase3 = load("phase1").stack, load("phase3").stack
    assert (phase1.redis.mode, phase3.redis.mode) == ("standalone", "cluster")
    one, taken = calibration.apply(phase1, cal)
    assert (one.nginx.rps_per_replica, one.redis.ops_per_master) == (9000, 120000)
    assert taken == ["nginx.rps_per_replica 9,000 (default 5,000)",
                     "redis.ops_per_master 120,000 (default 50,000)"]
    three, _ = calibration.apply(phase3, cal)
    assert three.redis.ops_per_master == 110000
    assert phase3.redis.ops_per_master == 50_000  # the loaded stack is left as it was


def test_apply_keeps_what_the_stack_file_sets(tmp_path):
    f = tmp_path / "Pulumi.own.yaml"
    f.write_text("config:\n  phasestack:phase: phase2\n"
                 "  phasestack:nginx: {rps_per_replica: 7000}\n")
    cal = calibration.read(write(tmp_path, measured(**{"nginx.rps_per_replica": 9000})))
    stack, taken = calibration.apply(load(str(f)).stack, cal)
    assert stack.nginx.rps_per_replica == 7000
    assert taken == ["nginx.rps_per_replica: the stack's own 7,000 kept (calibration 9,000)"]


def test_plan_uses_the_calibration(tmp_path):
    f = write(tmp_path, measured(**{"nginx.rps_per_replica": 120}))
    r = run("plan", "phase2", "--calibration", str(f))
    assert r.exit_code == 1  # 2 nginx pods x 120 req/s < phase2's 833 peak rps
    assert f"calibration: {f} (measured on {MACHINE}): nginx.rps_per_replica 120 " \
           "(default 5,000)" in r.output
    assert "peak_rps 833.0 <= nginx pods 2 x rps_per_replica 120 = 240: false" in r.output
    data = json.loads(run("plan", "phase2", "--calibration", str(f), "--format", "json").output)
    assert data["calibration"] == {"file": str(f), "machine": MACHINE,
                                   "taken": ["nginx.rps_per_replica 120 (default 5,000)"]}
    md = run("plan", "phase2", "--calibration", str(f), "--format", "markdown").output
    assert f"calibration: {f} (measured on {MACHINE})" in md


def test_plan_without_calibration_has_none():
    data = json.loads(run("plan", "phase2", "--format", "json").output)
    assert data["calibration"] is None


def test_plan_bad_calibration_exit_2(tmp_path):
    f = write(tmp_path, measured(**{"nginx.rps_per_replica": 0}))
    r = CliRunner().invoke(main, ["plan", "phase2", "--calibration", str(f)])
    assert r.exit_code == 2
    assert r.output == f"error: {f}: figures.nginx.rps_per_replica: Input should be greater " \
                       "than 0 (got 0)\n"
    j = CliRunner().invoke(main, ["plan", "phase2", "--calibration", str(f), "--format", "json"])
    assert j.exit_code == 2
    assert json.loads(j.stdout)["problems"] == [
        f"{f}: figures.nginx.rps_per_replica: Input should be greater than 0 (got 0)"]

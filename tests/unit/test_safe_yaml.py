"""Stack files nobody vetted (the PR job loads them from pull requests): the audit's crashes and
hangs (issue 11) are clear errors naming the file and line, in bounded time."""

from __future__ import annotations

import time

import pytest
import yaml

from phasestack import safe_yaml
from phasestack.model import Stack
from phasestack.stackfile import StackError, load
from phasestack.targets.kubernetes import TargetError, previous_credentials

# a billion-laughs bomb: each level multiplies the one below by ten (10^9 values at the top)
BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10) if i else 'x'}]\n"
               for i in range(10)) + "config: {phasestack:api: *l9}\n"
CASES = {
    "complex key": ("config:\n  ? [a, b]\n  : 1\n",
                    "line 2: a mapping key must be a plain value, not a list or a mapping"),
    "recursive alias": ("config: &a\n  phasestack:api: *a\n",
                        "line 1: an alias refers to a value that contains it (recursive alias)"),
    "deep nesting": ("config:\n  phasestack:api: " + "[" * 1000 + "]" * 1000 + "\n",
                     "line 2: nested deeper than 32 levels"),
    "alias bomb": (BOMB, "line 5: expands to more than 20,000 values (aliases multiply what "
                         "they refer to)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_yaml_is_a_clear_error_in_bounded_time(case, tmp_path):
    text, message = CASES[case]
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(StackError) as err:
        load(str(path))
    elapsed = time.perf_counter() - started
    assert err.value.problems == [f"{path}: {message}"]
    # the stated bound (the audit saw 4.6 s to > 60 s and RecursionErrors); measured ~0.2 s
    assert elapsed < 2.0, f"{case}: {elapsed:.2f} s"


def test_aliases_that_stay_small_still_load(tmp_path):
    path = tmp_path / "Pulumi.anchors.yaml"
    path.write_text("config:\n  phasestack:phase: phase1\n"
                    "  phasestack:api: {resources: &r {cpu_request: 100m, cpu_limit: '1'}}\n"
                    "  phasestack:nginx: {resources: *r}\n")
    stack = load(str(path)).stack
    assert stack.api.resources.cpu_request == stack.nginx.resources.cpu_request == "100m"


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(safe_yaml.YamlLimit) as err:
        safe_yaml.compose("#" * (safe_yaml.MAX_BYTES + 1))
    assert str(err.value) == "larger than 1024 KiB"


def test_many_workers_are_checked_in_linear_time():
    names = [{"name": f"w{i}"} for i in range(100)]
    started = time.perf_counter()
    with pytest.raises(ValueError) as err:
        Stack.model_validate({"api": {"workers": names + [{"name": "w7"}]}})
    assert "at most 100 items" in str(err.value)
    Stack.model_validate({"api": {"workers": names}})
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("text, problem", [
    ("stringData: {a: [unclosed\n", "not the Secret manifests a render writes"),
    ("kind: Secret\nmetadata: 7\nstringData: {a: b}\n", "not the Secret manifests a render writes"),
    ("- just\n- a list\n", "not the Secret manifests a render writes"),
    (yaml.safe_dump({"kind": "Secret", "metadata": {"name": "redis-credentials"},
                     "stringData": {"redis-password": 'quote"and\nnewline-0123456789'}}),
     "redis-credentials.redis-password: use at least 16 characters"),
])
def test_an_earlier_secrets_yaml_is_checked_like_supplied_credentials(tmp_path, text, problem):
    (tmp_path / ".phasestack-render").write_text("")
    (tmp_path / "secrets.yaml").write_text(text)
    with pytest.raises(TargetError) as err:
        previous_credentials(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'secrets.yaml'}: ")
    assert problem in str(err.value)
    assert "newline-0123456789" not in str(err.value)

"""The program takes its topology from Pulumi's config (stack file, --config, ESC), validated
by the same rules as `phasestack validate`."""

import json

import pulumi
import pytest


def deployment(run, name):
    found = [r for r in run.of_type("kubernetes:apps/v1:Deployment")
             if r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_config_beyond_the_stack_file_reaches_the_topology(program):
    # as `pulumi up --config phasestack:api='{...}'` or an ESC environment would set it
    run = program("mvp", config={"phasestack:api": json.dumps({"replicas": 3})})
    assert deployment(run, "api").inputs["spec"]["replicas"] == 3
    # the preset and the file still apply beneath it
    assert run.exports["phase"] == "mvp"


def test_bad_config_is_a_clear_error_not_a_traceback(program):
    bad = {"phasestack:api": json.dumps({"hpa": {"max_replica": 3}})}
    with pytest.raises(pulumi.RunError) as err:
        program("phase2", config=bad)
    assert str(err.value) == ("stack phase2 (Pulumi config): phasestack:api.hpa.max_replica: "
                              "unknown key (did you mean 'max_replicas'?)")


def test_configured_credential_must_be_url_safe(program):
    # `pulumi config set --secret phasestack:redisPassword 'p@ss:...'` would break REDIS_URL
    with pytest.raises(Exception) as err:
        program("phase1", config={"phasestack:redisPassword": "p@ss:word/with-specials"})
    assert "phasestack:redisPassword: use at least 16 characters of letters, digits and " \
        ". _ ~ -" in str(err.value)
    assert "p@ss" not in str(err.value)


def test_credential_set_without_secret_is_refused_by_name(program):
    # `pulumi config set phasestack:redisPassword ...` (no --secret) would sit in plain text
    with pytest.raises(pulumi.RunError) as err:
        program("phase1", config={"phasestack:redisPassword": "abcdefghijklmnopqrstuvwxyz"},
                plain_keys=frozenset({"phasestack:redisPassword"}))
    assert str(err.value) == (
        "stack phase1 (Pulumi config): phasestack:redisPassword: plain-text secret; set it "
        "with `pulumi config set --secret phasestack:redisPassword`")
    assert "abcdefghijklmnop" not in str(err.value)


def test_unknown_config_key_is_refused_not_ignored(program):
    with pytest.raises(pulumi.RunError) as err:
        program("phase2", config={"phasestack:replicas": "3"})
    assert str(err.value) == ("stack phase2 (Pulumi config): phasestack:replicas: unknown key "
                              "(did you mean 'redis'?)")


def test_structured_key_that_is_not_json_is_refused(program):
    with pytest.raises(pulumi.RunError) as err:
        program("phase2", config={"phasestack:api": "{replicas: 3"})
    assert str(err.value) == ("stack phase2 (Pulumi config): phasestack:api: expected a "
                              "mapping (JSON object)")

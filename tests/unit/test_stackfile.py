"""Loader: precedence, errors naming file and key, the broken-stack corpus."""

from pathlib import Path

import pytest
import yaml

from phasestack.stackfile import StackError, deep_merge, list_stack_files, load, stack_name

BROKEN = Path(__file__).parent / "broken"

# file -> the exact message after "<path>: "
EXPECTED = {
    "bad_namespace.yaml": "config.phasestak:phase: unknown namespace 'phasestak' "
                          "(did you mean 'phasestack'?)",
    "bad_namespace_name.yaml": "phasestack:namespace: must be a DNS label: lower-case "
                               "letters, digits and -, at most 63 characters (got 'Phase_One')",
    "bad_phase.yaml": "phasestack:phase: must be one of mvp, phase1, phase2, phase3, "
                      "got 'phase9'",
    "bad_policy.yaml": "phasestack:redis.maxmemory_policy: Input should be 'noeviction', "
                       "'volatile-lru', 'volatile-lfu', 'volatile-ttl', 'allkeys-lru' or "
                       "'allkeys-lfu' (got 'lru-please')",
    "cluster_masters.yaml": "phasestack:redis: Redis Cluster needs at least 3 masters, got 2",
    "config_list.yaml": "config: expected a mapping of 'phasestack:<key>' entries",
    "empty.yaml": "the file is empty; expected a 'config:' mapping",
    "grafana_without_prometheus.yaml": "phasestack:monitoring: grafana and alerts need "
                                       "prometheus: true",
    "hpa_bounds.yaml": "phasestack:api.hpa: min_replicas (12) must be <= max_replicas (4)",
    "min_pool.yaml": "phasestack:pgbouncer: min_pool_size (30) must be <= default_pool_size (25)",
    "negative.yaml": "phasestack:postgres.read_replicas: Input should be greater than or equal "
                     "to 0 (got -1)",
    "no_config.yaml": "config: expected a mapping of 'phasestack:<key>' entries",
    "no_namespace.yaml": "config.phase: keys need a namespace, e.g. 'phasestack:phase'",
    "not_mapping.yaml": "expected a mapping with a 'config:' key, got list",
    "pgbouncer_budget.yaml": "phasestack:pgbouncer: server connections 8 x (40 + 5) x 1 pool(s) "
                             "on the primary = 360, + replication 3 + monitoring 2 + "
                             "superuser_reserved 3 = 368 exceed postgres max_connections 200",
    "reserved_namespace.yaml": "phasestack:namespace: 'kube-system' is a system namespace; a "
                               "stack needs one of its own",
    "duplicate_key.yaml": "config.phasestack:api: key given twice (line 4); only one value can "
                          "win",
    "duplicate_workers.yaml": "phasestack:api: worker names must be unique: mail given twice",
    "injected_path.yaml": "phasestack:nginx.auth_path: must be a URL path such as /healthz "
                          "(letters, digits and . _ ~ / -) (got '/auth/ { return 200; }')",
    "plain_secret.yaml": "phasestack:postgresPassword: plain-text secret; set it with "
                         "`pulumi config set --secret phasestack:postgresPassword`",
    "section_not_mapping.yaml": "phasestack:api: Input should be a valid dictionary or instance "
                                "of Api (got 4)",
    "prefix_in_stack_file.yaml": "phasestack:prefix: set by a component used on its own in a "
                                 "Pulumi program, not by a stack file (a stack owns its "
                                 "namespace)",
    "unknown_key.yaml": "phasestack:redsi: unknown key (did you mean 'redis'?)",
    "unknown_nested.yaml": "phasestack:api.hpa.max_replica: unknown key "
                           "(did you mean 'max_replicas'?)",
    "unknown_top.yaml": "confg: unknown top-level key (Pulumi stack files hold config, "
                        "encryptedkey, encryptionsalt, secretsprovider)",
    "wrong_type.yaml": "phasestack:load.concurrent_users: Input should be a valid integer "
                       "(got 'lots')",
    "yaml_syntax.yaml": "YAML syntax error (line 4, column 1): expected ',' or '}', but got "
                        "'<stream end>'",
}


def test_corpus_is_complete():
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_stack_gives_one_exact_message(name):
    path = BROKEN / name
    with pytest.raises(StackError) as err:
        load(path)
    assert err.value.problems == [f"{path}: {EXPECTED[name]}"]


def test_every_problem_is_reported(tmp_path):
    f = tmp_path / "two.yaml"
    f.write_text("config:\n  phasestack:phase: phase1\n  phasestack:api: {replicas: 0}\n"
                 "  phasestack:redis: {maxmemory_mb: 1}\n")
    with pytest.raises(StackError) as err:
        load(f)
    assert [p.split(": ", 2)[1] for p in err.value.problems] == [
        "phasestack:api.replicas", "phasestack:redis.maxmemory_mb"]


def test_precedence_defaults_preset_stack_file(tmp_path):
    f = tmp_path / "Pulumi.custom.yaml"
    f.write_text("config:\n  phasestack:phase: phase1\n  phasestack:api: {hpa: {max_replicas: 9}}\n"
                 "  kubernetes:context: kind-phasestack\n")
    stack = load(f).stack
    assert stack.api.hpa.max_replicas == 9  # stack file
    assert stack.api.hpa.min_replicas == 2  # phase1 preset, kept beside the override
    assert stack.pgbouncer.default_pool_size == 25  # preset
    assert stack.api.port == 9898  # model default


def test_secret_config_keys_are_accepted_not_topology(tmp_path):
    f = tmp_path / "Pulumi.s.yaml"
    f.write_text("config:\n  phasestack:phase: mvp\n  phasestack:redisPassword:\n"
                 "    secure: v1:abc\n")
    loaded = load(f)
    assert loaded.secrets == frozenset({"redisPassword"})


def test_missing_stack_suggests_a_name(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])
    with pytest.raises(StackError) as err:
        load("phase22")
    assert err.value.problems == [
        f"{Path.cwd() / 'stacks/Pulumi.phase22.yaml'}: no stack named 'phase22' "
        "(did you mean 'phase2'?)"]


def test_directory_and_non_utf8(tmp_path):
    with pytest.raises(StackError) as err:
        load(f"{tmp_path}/")
    assert err.value.problems == [f"{tmp_path}/: is a directory; give a stack name or a "
                                  "stack file"]
    f = tmp_path / "Pulumi.latin1.yaml"
    f.write_bytes(b"config:\n  phasestack:phase: \"\xff\"\n")
    with pytest.raises(StackError) as err:
        load(f)
    assert err.value.problems == [f"{f}: not UTF-8 text (byte 29)"]


def test_missing_path():
    with pytest.raises(StackError) as err:
        load("nowhere/Pulumi.x.yaml")
    assert err.value.problems == ["nowhere/Pulumi.x.yaml: no such stack file"]


def test_generic_stacks_come_first_in_phase_order(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])
    names = [p.name for p in list_stack_files()][:4]
    assert names == ["Pulumi.mvp.yaml", "Pulumi.phase1.yaml", "Pulumi.phase2.yaml",
                     "Pulumi.phase3.yaml"]


def test_deep_merge_keeps_siblings():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


@pytest.mark.parametrize("section, value, message", [
    # the audit's loose conversions (issue 11): YAML true became port 1, "yes" became true
    ({"api": {"port": True}}, None, "phasestack:api.port: Input should be a valid integer "
                                    "(got True)"),
    ({"monitoring": {"grafana": "yes"}}, None, "phasestack:monitoring.grafana: Input should "
                                               "be a valid boolean (got 'yes')"),
])
def test_values_are_not_loosely_converted(tmp_path, section, value, message):
    path = tmp_path / "Pulumi.loose.yaml"
    config = {f"phasestack:{k}": v for k, v in section.items()}
    path.write_text(yaml.safe_dump({"config": {"phasestack:phase": "phase1", **config}}))
    with pytest.raises(StackError) as err:
        load(path)
    assert err.value.problems == [f"{path}: {message}"]


@pytest.mark.parametrize("file, name", [
    ("Pulumi.phase2.yaml", "phase2"), ("Pulumi.prod.yml", "prod"), ("prod.yaml", "prod"),
    ("stack-mvp.yml", "stack-mvp"), ("notpulumi.yaml", "notpulumi"),
    ("Pulumi.yaml", "Pulumi"),
])
def test_stack_names_follow_pulumis_convention_else_the_stem(file, name):
    # issue 12: names were sliced from any file name ("", "v", "mi")
    assert stack_name(Path(file)) == name


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    """Issue 12 item 12: one unknown key hid every other problem; a pattern printed a regex."""
    f = tmp_path / "Pulumi.bad.yaml"
    f.write_text("extra: 1\nconfig:\n  phasestack:phase: mvp\n  phasestack:bogus: 1\n"
                 "  phasestack:api:\n    resources:\n      cpu_limit: 2GB\n")
    with pytest.raises(StackError) as e:
        load(f)
    assert e.value.problems == [
        f"{f}: extra: unknown top-level key (Pulumi stack files hold config, encryptedkey, "
        "encryptionsalt, secretsprovider)",
        f"{f}: phasestack:bogus: unknown key",
        f"{f}: phasestack:api.resources.cpu_limit: must be a Kubernetes CPU quantity such as "
        "500m or 2 (got '2GB')"]


def test_secret_keys_are_the_credentials():
    """The loader's secret keys and the credential table name the same credentials (the
    loader keeps its own set so the CLI need not import the synthesizers)."""
    from phasestack.stackfile import SECRET_KEYS
    from phasestack.synth.secrets import CREDENTIALS
    assert set(SECRET_KEYS) == set(CREDENTIALS)
